"""Command-line pieces that several commands share: sub-command set-up, predictor options,
config options, and the closing report of inputs that failed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from ..errors import UserError
from ..io.bundled import DEFAULT_WEIGHTS


def add_command(subparsers, name: str, run: Callable[[argparse.Namespace], int], help: str,
                description: str, epilog: str) -> argparse.ArgumentParser:
    """A sub-command whose examples (``epilog``) keep their line breaks; ``run(args)`` is its body."""
    parser = subparsers.add_parser(name, help=help, description=description, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=run)
    return parser


def add_config_arguments(parser: argparse.ArgumentParser, config_help: str) -> None:
    """``--config FILE`` and repeatable ``--set KEY=VALUE`` overrides of a training config."""
    parser.add_argument("--config", type=Path, default=None, help=config_help)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config value, e.g. --set model.paf_stages=3 or "
                             "--set model.head.sigma=5 (repeatable)")


def add_predictor_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs a Predictor."""
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS,
                        help="checkpoint (.pt), bundled weight name, or .onnx file (default: "
                             f"{DEFAULT_WEIGHTS}, the bundled COCO-trained network)")
    parser.add_argument("--backend", choices=("auto", "torch", "onnx", "openvino"), default="auto",
                        help="auto (default): openvino on a CPU where it is installed (pafpose[openvino]), "
                             "else onnx for a .onnx file and torch for the rest")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16", "int8"), default="auto",
                        help="auto (default): the fastest precision this machine runs that keeps the "
                             "weights' recorded AP within 0.01 of fp32, else fp32; bf16 needs a CPU with "
                             "AVX512-BF16/AMX or a GPU, fp16 a GPU, int8 the openvino backend")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--input-height", type=int, default=None,
                        help="network input height at scale 1 in pixels (default: the height the "
                             "weights recommend, else 368)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0],
                        help="multi-scale search factors, averaged (the paper: 0.5 1 1.5 2)")
    parser.add_argument("--flip", action="store_true", help="flip test: average with the mirrored image")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images/frames per network call (default: 1 on a CPU, where batching is "
                             "slower, 8 on a GPU)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the network (default: all cores)")
    parser.add_argument("--preprocess", choices=("auto", "cpu", "device"), default="auto",
                        help="where images are resized and padded: cpu (OpenCV), device (torch on --device), "
                             "auto (default): the device on a GPU, else cpu")
    parser.add_argument("--no-cuda-graphs", dest="cuda_graphs", action="store_false",
                        help="on CUDA, run the network eagerly instead of replaying a CUDA graph per input shape")
    parser.add_argument("--peak-threshold", type=float, default=None,
                        help="lowest heatmap value of a keypoint (default: the weights' own setting, "
                             "else the decoder's)")
    parser.add_argument("--paf-threshold", type=float, default=None,
                        help="PAF support a limb sample needs to count (default: the weights' own "
                             "setting, else the decoder's)")
    parser.add_argument("--max-people", type=int, default=None,
                        help="keep at most N people per image, the highest scored (default: all)")


def build_predictor(args: argparse.Namespace):
    """A Predictor from the shared options (loads the weights: call after checking the inputs)."""
    from ..device import check_device
    from ..inference.predict import Predictor

    if args.batch_size is not None and args.batch_size < 1:
        raise UserError("--batch-size must be >= 1")
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be >= 1, got {args.threads}")
    for option in ("peak_threshold", "paf_threshold"):
        value = getattr(args, option)
        if value is not None and not value >= 0:  # also refuses nan
            raise UserError(f"--{option.replace('_', '-')} must be >= 0, got {value}")
    check_device(args.device)
    decode_params = {key: value for key, value in (("peak_threshold", args.peak_threshold),
                                                   ("paf_threshold", args.paf_threshold))
                     if value is not None}
    return Predictor(args.weights, device=args.device, input_height=args.input_height,
                     scales=args.scales, flip=args.flip, backend=args.backend, precision=args.precision,
                     batch_size=args.batch_size, decode_params=decode_params,
                     max_people=args.max_people, threads=args.threads,
                     preprocess=getattr(args, "preprocess", "auto"), cuda_graphs=getattr(args, "cuda_graphs", True))


def nonempty_path(text: str | Path, option: str) -> Path:
    """``text`` as a Path; UserError when it is empty (``Path("")`` is the current folder, which
    ``--out ""`` from an unset shell variable never means)."""
    if not str(text).strip():
        raise UserError(f"{option} is empty: give a folder (use . for the current one)")
    return Path(text)


def report_failures(command: str, failures: list[str], what: str) -> int:
    """Print the inputs that failed to stderr; the exit status: 1 if any did, else 0."""
    if not failures:
        return 0
    print(f"pafpose {command}: {len(failures)} {what}(s) failed:", file=sys.stderr)
    for line in failures:
        print(f"  {line}", file=sys.stderr)
    return 1

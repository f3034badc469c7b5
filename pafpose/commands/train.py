"""``pafpose train``: train a pose network on COCO-format data (one process, or many via torchrun)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from ..errors import EXIT_FAILED, EXIT_OK, EXIT_RESUMABLE, EXIT_STATUS_HELP, UserError
from .arguments import add_command, add_config_arguments

EXAMPLES = """\
examples:
  # one GPU, the paper's schedule (200k iterations), ImageNet VGG-19 initialisation
  pafpose train --config configs/coco.yaml --backbone-weights vgg19-dcbb9e9d.pth \\
      --images coco/train2017 --annotations coco/annotations/person_keypoints_train2017.json \\
      --val-images coco/val2017 --val-annotations coco/annotations/person_keypoints_val2017.json \\
      --out runs/coco
  # 8 GPUs on one node (batch_size is per process)
  torchrun --nproc_per_node=8 -m pafpose.cli train --config configs/coco.yaml ... --out runs/coco
  # continue after a crash, Ctrl-C or preemption (config taken from the checkpoint)
  pafpose train --resume runs/coco/last.pt
  # a quick CPU smoke run on synthetic scenes
  pafpose synth --out data/synth && pafpose train --config configs/tiny.yaml \\
      --annotations data/synth/annotations.json --images data/synth/images --out runs/tiny

A run stopped by Ctrl-C or SIGTERM saves a checkpoint and exits with 75 (resume with --resume),
distinct from 1 (stopped by a non-finite loss): a requeue loop can tell them apart. A second
Ctrl-C/SIGTERM stops at once (130/143), keeping the last checkpoint written.

""" + EXIT_STATUS_HELP


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "train", run,
        help="train a pose network (Adam, deep supervision, AMP, DDP via torchrun, exact resume)",
        description="Train an OpenPose network on COCO-format person keypoints. Checkpoints "
                    "(OUT/last.pt, written atomically) hold everything needed to resume exactly; "
                    "Ctrl-C or SIGTERM saves one and exits with status 75. One run at a time per "
                    "--out. TensorBoard logs go to OUT/tensorboard (needs pafpose[train]).",
        epilog=EXAMPLES,
    )
    add_config_arguments(parser, "YAML config (configs/coco.yaml, configs/tiny.yaml)")
    parser.add_argument("--annotations", nargs="+", help="COCO person-keypoints JSON file(s) to train on")
    parser.add_argument("--images", nargs="+", help="image folder, or one per annotation file "
                                                     "(default: images/ beside each annotation file, else its folder)")
    parser.add_argument("--val-annotations", help="COCO keypoints JSON for periodic validation AP")
    parser.add_argument("--val-images", help="validation image folder")
    parser.add_argument("--out", help="output folder for checkpoints and TensorBoard logs")
    parser.add_argument("--backbone-weights", help="torchvision VGG-19 ImageNet state dict (.pth)")
    parser.add_argument("--init-weights", metavar="CHECKPOINT",
                        help="start from this checkpoint or bundled network (e.g. "
                             "mobilenet-thin-coco with configs/mobilenet-thin.yaml): weights only, "
                             "a fresh optimizer and schedule")
    parser.add_argument("--resume", nargs="?", const="last", metavar="CHECKPOINT",
                        help="resume from CHECKPOINT (default OUT/last.pt); without --config the "
                             "checkpoint's own config is used")
    parser.add_argument("--iterations", type=int,
                        help="total iterations (default: the config's 'iterations')")
    parser.add_argument("--batch-size", type=int, help="images per process per iteration")
    parser.add_argument("--workers", type=int, help="data-loader processes per training process")
    parser.add_argument("--device", help="auto (default), cpu, cuda, cuda:1, ...")
    parser.add_argument("--amp", choices=("auto", "off", "bf16", "fp16"), help="mixed precision on CUDA")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _flag_overrides(args: argparse.Namespace) -> list[str]:
    import json

    pairs = {"train_annotations": args.annotations, "train_images": args.images,
             "val_annotations": args.val_annotations, "val_images": args.val_images,
             "out_dir": args.out, "backbone_weights": args.backbone_weights,
             "init_weights": args.init_weights,
             "iterations": args.iterations, "batch_size": args.batch_size, "workers": args.workers,
             "device": args.device, "amp": args.amp}
    out = [f"{key}={json.dumps(value)}" for key, value in pairs.items() if value is not None]
    if args.no_progress:
        out.append("progress=false")
    return out


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..io.checkpoint import load_checkpoint
    from ..io.outputs import lock_folder
    from ..training import NonFiniteLoss, TrainConfig, train

    overrides = _flag_overrides(args) + list(args.overrides)
    resume = None
    if args.resume is not None:
        if args.resume == "last":
            out = args.out or (load_config(TrainConfig, args.config).out_dir if args.config else None)
            if out is None:
                raise UserError("--resume without a path needs --out (or --config) to find OUT/last.pt")
            resume = Path(out) / "last.pt"
        else:
            resume = Path(args.resume)
        if args.config is None:
            state = load_checkpoint(resume)
            if "train_config" not in state:
                raise UserError(f"{resume}: has no train_config; pass --config")
            cfg = load_config(TrainConfig, None, overrides, values=dict(state["train_config"]))
        else:
            cfg = load_config(TrainConfig, args.config, overrides)
    else:
        cfg = load_config(TrainConfig, args.config, overrides)
    main_process = int(os.environ.get("RANK", "0")) == 0
    # Two runs into one folder would interleave metrics.jsonl and overwrite each other's last.pt;
    # rank 0 alone writes there, so it alone holds the lock.
    with lock_folder(Path(cfg.out_dir), "pafpose train") if main_process else contextlib.nullcontext():
        if args.resume is None and Path(cfg.out_dir, "last.pt").exists():
            raise UserError(f"{Path(cfg.out_dir, 'last.pt')} exists: pass --resume to continue that run, "
                            "or choose another --out")
        try:
            result = train(cfg, resume=resume)
        except NonFiniteLoss as err:
            print(f"pafpose train: {err}", file=sys.stderr)
            return EXIT_FAILED
    if main_process:
        state = "interrupted" if result.interrupted else "finished"
        print(f"{state} at iteration {result.iteration}; checkpoint: {result.checkpoint}")
        if result.skipped_annotations or result.skipped_samples:
            print(f"skipped {len(result.skipped_annotations)} malformed annotation(s) and "
                  f"{result.skipped_samples} broken sample(s) (reasons in the log and metrics.jsonl)")
    return EXIT_RESUMABLE if result.interrupted else EXIT_OK

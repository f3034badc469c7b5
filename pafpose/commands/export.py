"""``pafpose export``: a checkpoint -> ONNX with dynamic batch, height and width."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from .arguments import add_command

EXAMPLES = """\
examples:
  pafpose export --weights model.pt --onnx model.onnx
  pafpose infer photos/ --weights model.onnx --out out/     # .onnx: the onnx backend

The graph takes "image" (B, 3, H, W) float32 RGB in [0, 1] (H, W multiples of the head's stride;
the model normalises internally) and returns "heatmaps" (B, K + 1, H/s, W/s) and "pafs"
(B, 2L, H/s, W/s) for the head's K keypoints and L limbs (COCO-18 at stride 8: 19 and 38).
The head and the checkpoint's recommended input height go into the file's metadata. Needs
pafpose[onnx].
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "export", run,
        help="export a checkpoint to ONNX",
        description="Export a model's inference graph (last stage) to ONNX with dynamic batch, "
                    "height and width, and check onnxruntime reproduces PyTorch's maps.",
        epilog=EXAMPLES,
    )
    parser.add_argument("--weights", required=True, help="checkpoint (.pt) or bundled weight name")
    parser.add_argument("--onnx", type=Path, required=True, help="ONNX file to write")
    parser.add_argument("--opset", type=int, default=17,
                        help="ONNX operator set version (default 17; lower it for older runtimes)")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from torch.onnx.errors import OnnxExporterError

    from ..inference.onnx_export import OnnxSession, export_onnx
    from ..inference.settings import InferenceSettings
    from ..io.checkpoint import load_checkpoint, model_from_checkpoint, resolve_weights
    from ..io.media import quiet_stderr

    if args.onnx.suffix.lower() != ".onnx":
        raise UserError(f"{args.onnx}: the output file should end in .onnx")
    low, high = _opset_range()
    if not low <= args.opset <= high:
        raise UserError(f"--opset {args.opset}: this torch exports ONNX opsets {low} to {high}")
    path = resolve_weights(args.weights)
    state = load_checkpoint(path)
    model, _ = model_from_checkpoint(state, path, device="cpu")
    try:
        with quiet_stderr(fds=(1, 2)):  # the exporter prints the whole graph (from C++) before it raises
            export_onnx(model, args.onnx, opset=args.opset,
                        inference=InferenceSettings.from_entry(state.get("inference"), str(path)).to_entry())
    except OnnxExporterError as err:  # an operator this opset lacks
        reason = str(err).split("[Caused by", 1)[0].strip().splitlines()[0]
        raise UserError(f"--opset {args.opset}: cannot export {args.weights} ({reason})") from None
    # A size other than the export sample checks that height and width really are dynamic.
    probe = torch.rand(2, 3, 96, 136)
    with torch.inference_mode():
        expected = [m.numpy() for m in model.infer(probe)]
    got = OnnxSession(args.onnx).infer(probe.numpy())
    error = max(float(np.abs(a - b).max()) for a, b in zip(expected, got))
    print(f"wrote {args.onnx} ({args.onnx.stat().st_size / 1e6:.1f} MB); "
          f"max |onnxruntime - torch| on a 2x3x96x136 probe: {error:.2e}")
    return 0


def _opset_range() -> tuple[int, int]:
    """The ONNX opsets torch's TorchScript exporter (the one ``export_onnx`` uses) can write."""
    from torch.onnx import _constants

    return (getattr(_constants, "ONNX_MIN_OPSET", 7),
            getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", getattr(_constants, "ONNX_MAX_OPSET", 17)))

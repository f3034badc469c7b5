"""``pafpose model-info``: parameters, compute and output shapes of a network."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_command

EXAMPLES = """\
examples:
  pafpose model-info                              # the default TPAMI network
  pafpose model-info --config configs/small.yaml  # a training config's model section
  pafpose model-info --arch cvpr2017              # the CVPR-2017 two-branch, 6-stage network
  pafpose model-info --weights mobilenet-thin-coco  # the bundled COCO-trained network
  pafpose model-info --weights runs/coco/last.pt --size 480 640
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "model-info", run,
        help="print a network's parameter count, GFLOPs and output shapes",
        description="Print the parameter count and the compute (GFLOPs = 2 x multiply-accumulates "
                    "of one forward pass, counted by torch's FlopCounterMode) of a pose network.",
        epilog=EXAMPLES,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help="training YAML whose model section to use")
    source.add_argument("--weights", help="checkpoint or bundled weight name")
    source.add_argument("--arch", choices=("tpami", "cvpr2017", "mobilenet-thin"),
                        help="a default network of this kind")
    parser.add_argument("--size", type=int, nargs="+", default=[368], metavar="PX",
                        help="input side, or height and width (default 368)")


def run(args: argparse.Namespace) -> int:
    import copy

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..errors import UserError
    from ..models import ModelConfig, build_model

    if len(args.size) not in (1, 2) or min(args.size) <= 0:
        raise UserError(f"--size takes one or two positive sides, got {args.size}")
    height, width = args.size if len(args.size) == 2 else args.size * 2
    if args.weights:
        from ..io.checkpoint import load_model

        model, cfg = load_model(args.weights)
    else:
        if args.config:
            from ..config import load_config
            from ..training import TrainConfig

            cfg = load_config(TrainConfig, args.config).model
        else:
            cfg = ModelConfig(arch=args.arch or "tpami")
        model = build_model(cfg).eval()
    params = sum(p.numel() for p in model.parameters())
    backbone = sum(p.numel() for p in model.backbone.parameters())
    # On the meta device: shapes and FLOPs without memory or time, so any size can be asked for.
    model = copy.deepcopy(model).to("meta")
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            pafs, heatmaps = model(torch.zeros(1, 3, height, width, device="meta"))
    except RuntimeError as err:  # e.g. a pooling window larger than what is left of a tiny input
        raise UserError(f"--size {height} {width}: too small for this network "
                        f"({str(err).splitlines()[0]})") from None
    stages = (f"{len(pafs)} PAF + {len(heatmaps)} heatmap stages" if cfg.arch == "tpami"
              else f"{len(pafs)} two-branch stages")
    print(f"arch: {cfg.arch} ({stages})")
    print(f"parameters: {params:,} ({params / 1e6:.2f} M; backbone {backbone / 1e6:.2f} M)")
    print(f"compute at {height}x{width}: {counter.get_total_flops() / 1e9:.1f} GFLOPs "
          f"({counter.get_total_flops() / 2e9:.1f} GMACs)")
    print(f"outputs: heatmaps {tuple(heatmaps[-1].shape)}, pafs {tuple(pafs[-1].shape)}")
    return 0

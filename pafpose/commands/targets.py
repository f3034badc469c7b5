"""``pafpose targets``: render the ground-truth heatmaps, PAFs and loss mask of annotated images."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..io.annotations import SAMPLE_ANNOTATIONS
from .arguments import add_command, add_config_arguments

EXAMPLES = """\
examples:
  pafpose targets                                   # the bundled real COCO samples -> outputs/targets
  pafpose targets --annotations ann.json --images imgs/ --out vis/ --limit 10
  pafpose targets --config configs/coco.yaml --set model.head.sigma=5   # another head
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "targets", run,
        help="render ground-truth heatmaps, PAFs and loss masks to PNG files",
        description="Render the training targets (Gaussian heatmaps, Part Affinity Fields and the "
                    "loss mask W) of COCO-annotated images as PNG overlays.",
        epilog=EXAMPLES,
    )
    parser.add_argument("--annotations", type=Path, default=SAMPLE_ANNOTATIONS,
                        help="COCO person-keypoints JSON (default: the bundled real samples)")
    parser.add_argument("--images", type=Path, default=None,
                        help="image folder (default: the annotation file's folder)")
    parser.add_argument("--out", type=Path, default=Path("outputs/targets"), help="output folder")
    add_config_arguments(parser, "training config YAML whose model head (skeleton, stride, sigma, "
                                 "limb width) and loss-mask rules to draw (default: the built-in ones)")
    parser.add_argument("--limit", type=int, default=None, help="render at most this many images")


def run(args: argparse.Namespace) -> int:
    from ..codec.head import PafCodec
    from ..codec.masks import loss_mask
    from ..config import load_config
    from ..inference.render import heatmap_overlay, mask_overlay, paf_overlay
    from ..io.annotations import load_coco, read_annotated_image
    from ..io.outputs import write_image
    from ..training import TrainConfig

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    cfg = load_config(TrainConfig, args.config, args.overrides)
    codec = PafCodec(cfg.model.head)
    coco = load_coco(args.annotations)
    image_dir = args.images or args.annotations.parent
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: image folder not found")
    args.out.mkdir(parents=True, exist_ok=True)
    image_ids = sorted(coco.getImgIds())[: args.limit]
    for image_id in image_ids:
        info = coco.loadImgs(image_id)[0]
        image = read_annotated_image(image_dir / info["file_name"], info.get("width"), info.get("height"))
        height, width = image.shape[:2]
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        keypoints = codec.keypoints(annotations)
        heatmaps, pafs = codec.encode(keypoints, (width, height), background=False)
        mask = codec.encode_mask(loss_mask(annotations, height, width, cfg.data.min_keypoints,
                                           cfg.data.min_area))
        stem = Path(info["file_name"]).stem
        for kind, picture in (("heatmaps", heatmap_overlay(image, heatmaps)),
                              ("pafs", paf_overlay(image, pafs)),
                              ("mask", mask_overlay(image, mask))):
            write_image(args.out / f"{stem}_{kind}.png", picture)
        print(f"{info['file_name']}: {len(keypoints)} people -> {args.out}/{stem}_{{heatmaps,pafs,mask}}.png")
    print(f"wrote {3 * len(image_ids)} PNG files to {args.out.resolve()}")
    return 0

"""``pafpose targets``: render the ground-truth heatmaps, PAFs and loss mask of annotated images."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.annotations import SAMPLE_ANNOTATIONS, load_coco, person_keypoints
from ..errors import UserError
from ..io.images import read_image
from ..codec.masks import loss_mask, mask_to_map
from ..io.outputs import write_image
from ..inference.render import heatmap_overlay, mask_overlay, paf_overlay
from ..codec.skeleton import COCO18
from ..codec.targets import map_size_for, render_heatmaps, render_pafs

EXAMPLES = """\
examples:
  pafpose targets                                   # the bundled real COCO samples -> outputs/targets
  pafpose targets --annotations ann.json --images imgs/ --out vis/ --limit 10
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "targets",
        help="render ground-truth heatmaps, PAFs and loss masks to PNG files",
        description="Render the training targets (Gaussian heatmaps, Part Affinity Fields and the "
                    "loss mask W) of COCO-annotated images as PNG overlays.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--annotations", type=Path, default=SAMPLE_ANNOTATIONS,
                        help="COCO person-keypoints JSON (default: the bundled real samples)")
    parser.add_argument("--images", type=Path, default=None,
                        help="image folder (default: the annotation file's folder)")
    parser.add_argument("--out", type=Path, default=Path("outputs/targets"), help="output folder")
    parser.add_argument("--stride", type=int, default=8,
                        help="input pixels per map cell, the network's output stride (default 8)")
    parser.add_argument("--sigma", type=float, default=7.0, help="Gaussian sigma in input pixels")
    parser.add_argument("--limb-width", type=float, default=1.0, help="PAF half-width in map cells")
    parser.add_argument("--limit", type=int, default=None, help="render at most this many images")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    coco = load_coco(args.annotations)
    image_dir = args.images or args.annotations.parent
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: image folder not found")
    args.out.mkdir(parents=True, exist_ok=True)
    image_ids = sorted(coco.getImgIds())[: args.limit]
    for image_id in image_ids:
        info = coco.loadImgs(image_id)[0]
        image = read_image(image_dir / info["file_name"])
        height, width = image.shape[:2]
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        keypoints = person_keypoints(annotations)
        size = map_size_for((width, height), args.stride)
        heatmaps = render_heatmaps(keypoints, size, args.stride, args.sigma, background=False)
        pafs = render_pafs(keypoints, COCO18.limbs, size, args.stride, args.limb_width)
        mask = mask_to_map(loss_mask(annotations, height, width), args.stride)
        stem = Path(info["file_name"]).stem
        for kind, picture in (("heatmaps", heatmap_overlay(image, heatmaps)),
                              ("pafs", paf_overlay(image, pafs)),
                              ("mask", mask_overlay(image, mask))):
            write_image(args.out / f"{stem}_{kind}.png", picture)
        print(f"{info['file_name']}: {len(keypoints)} people -> {args.out}/{stem}_{{heatmaps,pafs,mask}}.png")
    print(f"wrote {3 * len(image_ids)} PNG files to {args.out.resolve()}")
    return 0

"""``pafpose synth``: write a COCO-format dataset of synthetic multi-person scenes."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from .arguments import add_command

EXAMPLES = """\
examples:
  pafpose synth --out data/synth-train --num-images 2000 --seed 0
  pafpose synth --out data/synth-val --num-images 200 --seed 1 --size 256x256 --max-people 3 --min-height 0.35
  # the scenes of the bundled synthetic-small model
  pafpose synth --out data/synth-train --num-images 4000 --seed 100 --size 256x256 --max-people 6 \\
      --min-height 0.3 --max-height 0.6 --max-overlap 0.3
"""


def image_size(text: str) -> tuple[int, int]:
    """'WxH' -> (W, H)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 368x368, got {text!r}") from None
    return w, h


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "synth", run,
        help="generate a synthetic COCO-format person-keypoints dataset",
        description="Draw textured scenes with 0..N articulated people (occlusions, crowd regions, "
                    "unannotated people) and write <out>/images/*.jpg plus <out>/annotations.json "
                    "in COCO person-keypoints format. The same seed gives the same dataset.",
        epilog=EXAMPLES,
    )
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder (refused if it already holds a dataset, unless --overwrite)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the dataset already in --out (its images/*.jpg and annotations.json)")
    parser.add_argument("--num-images", type=int, default=1000, help="scenes to draw (default 1000)")
    parser.add_argument("--max-people", type=int, default=4, help="most annotated people per image")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed; image i is drawn from (seed, i), so equal seeds give equal "
                             "datasets (default 0)")
    parser.add_argument("--size", type=image_size, default=(368, 368), help="image size WxH (default 368x368)")
    parser.add_argument("--min-height", type=float, default=0.2,
                        help="smallest annotated person, as a fraction of the image height (default 0.2)")
    parser.add_argument("--max-height", type=float, default=0.95,
                        help="largest annotated person, as a fraction of the image height (default 0.95)")
    parser.add_argument("--max-overlap", type=float, default=None,
                        help="largest fraction of a person's bounding box another annotated person "
                             "may cover (default: no limit)")


def run(args: argparse.Namespace) -> int:
    from ..data.synth import generate_dataset

    if args.num_images <= 0:
        raise UserError(f"--num-images must be positive, got {args.num_images}")
    images = args.out / "images"
    old = sorted(images.glob("*.jpg")) if images.is_dir() else []
    annotations = args.out / "annotations.json"
    if (old or annotations.exists()) and not args.overwrite:
        # Stale images beyond the new count would sit beside the new dataset, unannotated.
        raise UserError(f"{args.out}: already holds a dataset ({len(old)} images); pass --overwrite "
                        "to replace it, or choose another --out")
    for path in old:
        path.unlink()
    annotations.unlink(missing_ok=True)
    stats = generate_dataset(args.out, args.num_images, args.max_people, args.seed, args.size, progress=True,
                             min_height=args.min_height, max_height=args.max_height,
                             max_overlap=args.max_overlap)
    print(f"wrote {stats.images} images ({stats.people} annotated people, {stats.crowd_regions} crowd "
          f"regions, {stats.unannotated} unannotated people) in {stats.seconds:.1f} s "
          f"({stats.images / max(stats.seconds, 1e-9):.0f} images/s) -> {stats.annotation_file}")
    return 0

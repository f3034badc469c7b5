"""``pafpose demo``: the README's main job, end to end on fresh synthetic scenes."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import UserError

EXAMPLES = """\
examples:
  pafpose demo                          # bundled synthetic-small model, 8 new scenes -> demo-out/
  pafpose demo --seed 3 --num-images 16 --out demo-3
  pafpose demo --train                  # first retrain synthetic-small from scratch (15 min on 2 CPU cores)
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="draw new synthetic scenes, detect the people in them, write pictures, JSON and AP",
        description="Generate a few new synthetic multi-person scenes (seeded), run the bundled "
                    "synthetic-small model (trained here from scratch on synthetic figures only) "
                    "on them, write rendered images, OpenPose-style JSON and a tiled demo.jpg, "
                    "and print the COCO keypoint AP against the scenes' exact annotations.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default: demo-out)")
    parser.add_argument("--seed", type=int, default=7, help="scene seed (default: 7)")
    parser.add_argument("--num-images", type=int, default=8, help="scenes to draw (default: 8)")
    parser.add_argument("--weights", default=None,
                        help="checkpoint or bundled name to run (default: synthetic-small, or the "
                             "freshly trained one with --train)")
    parser.add_argument("--train", action="store_true",
                        help="first retrain synthetic-small from scratch (regenerates its 4000 "
                             "training and 200 validation scenes; 15 minutes on 2 CPU cores)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..demo import BUNDLED, run_demo, train_from_scratch

    if args.num_images < 1:
        raise UserError(f"--num-images must be >= 1, got {args.num_images}")
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    weights = args.weights or BUNDLED
    if args.train:
        weights, metrics = train_from_scratch(args.out / "train")
        print(f"trained from scratch in {(time.perf_counter() - start) / 60:.1f} min: validation AP "
              f"{metrics['AP']:.3f} on {args.out / 'train' / 'synth-val'} -> {weights}")
    result = run_demo(args.out, weights, seed=args.seed, num_images=args.num_images)
    m = result.metrics
    print(f"{len(result.images)} scenes (seed {args.seed}): found {result.people_found} people, "
          f"{result.people_annotated} annotated; {result.seconds_per_image * 1000:.0f} ms per image")
    print(f"COCO keypoint AP {m['AP']:.3f}  AP50 {m['AP50']:.3f}  AP75 {m['AP75']:.3f}  AR {m['AR']:.3f}")
    print(f"rendered: {result.out_dir}/*_rendered.jpg  all in one: {result.contact_sheet}")
    print(f"OpenPose JSON: {result.out_dir}/*_keypoints.json  scenes + annotations: {result.out_dir / 'scenes'}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0

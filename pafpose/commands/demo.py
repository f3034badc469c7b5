"""``pafpose demo``: the README's main job, end to end: real photos (or synthetic scenes) -> people."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import UserError
from .arguments import add_command

EXAMPLES = """\
examples:
  pafpose demo                          # bundled COCO-trained network on the 4 bundled COCO photos
  pafpose demo --annotations ann.json --images photos/ --out my-demo    # your own COCO-format set
  pafpose demo --synthetic              # bundled synthetic-small model, 8 new drawn scenes
  pafpose demo --synthetic --seed 3 --num-images 16 --out demo-3
  pafpose demo --train                  # retrain synthetic-small from scratch first (15 min on 2 CPU cores)
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "demo", run,
        help="detect the people in real photos (or synthetic scenes); write pictures, JSON and AP",
        description="Run the bundled COCO-trained network (mobilenet-thin-coco) on the bundled "
                    "COCO val2017 photos (or a COCO keypoint file of your own), write rendered "
                    "images, OpenPose-style JSON and a tiled demo.jpg, and print the COCO keypoint "
                    "AP against the annotations. --synthetic does the same on new synthetic "
                    "scenes with the bundled synthetic-small model (trained here on drawn figures).",
        epilog=EXAMPLES,
    )
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default: demo-out)")
    parser.add_argument("--weights", default=None,
                        help="checkpoint or bundled name to run (default: mobilenet-thin-coco; with "
                             "--synthetic synthetic-small, or the freshly trained one with --train)")
    parser.add_argument("--annotations", type=Path, default=None,
                        help="COCO keypoint annotation file of the photos (default: the 4 bundled "
                             "COCO val2017 images)")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder of the annotated photos (default: images/ beside the "
                             "annotation file, else its folder)")
    parser.add_argument("--input-height", type=int, default=None,
                        help="network input height (default: the height the weights recommend)")
    parser.add_argument("--synthetic", action="store_true",
                        help="draw new synthetic scenes and run the synthetic-small model instead")
    parser.add_argument("--seed", type=int, default=7, help="synthetic scene seed (default: 7)")
    parser.add_argument("--num-images", type=int, default=8,
                        help="synthetic scenes to draw (default: 8)")
    parser.add_argument("--train", action="store_true",
                        help="synthetic: first retrain synthetic-small from scratch (regenerates "
                             "its 4000 training and 200 validation scenes; 15 minutes on 2 CPU cores)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..demo import run_demo, run_synthetic_demo, train_from_scratch
    from ..io.bundled import DEFAULT_WEIGHTS, SYNTHETIC_WEIGHTS

    synthetic = args.synthetic or args.train
    if synthetic and (args.annotations or args.images or args.input_height):
        raise UserError("--annotations, --images and --input-height are for the photo demo, "
                        "not --synthetic/--train")
    if args.num_images < 1:
        raise UserError(f"--num-images must be >= 1, got {args.num_images}")
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if synthetic:
        weights = args.weights or SYNTHETIC_WEIGHTS
        if args.train:
            weights, metrics = train_from_scratch(args.out / "train")
            print(f"trained from scratch in {(time.perf_counter() - start) / 60:.1f} min: validation "
                  f"AP {metrics['AP']:.3f} on {args.out / 'train' / 'synth-val'} -> {weights}")
        result = run_synthetic_demo(args.out, weights, seed=args.seed, num_images=args.num_images)
        what = f"{len(result.images)} scenes (seed {args.seed})"
    else:
        weights = args.weights or DEFAULT_WEIGHTS
        options = {"input_height": args.input_height} if args.input_height else {}
        result = run_demo(args.out, weights, args.annotations, args.images, **options)
        what = f"{len(result.images)} photos" + ("" if args.annotations else " (COCO val2017, bundled)")
    m = result.metrics
    print(f"{what}, weights {weights}: found {result.people_found} people, "
          f"{result.people_annotated} annotated; {result.seconds_per_image * 1000:.0f} ms per image")
    print(f"COCO keypoint AP {m['AP']:.3f}  AP50 {m['AP50']:.3f}  AP75 {m['AP75']:.3f}  AR {m['AR']:.3f}")
    print(f"rendered: {result.out_dir}/*_rendered.jpg  all in one: {result.contact_sheet}")
    print(f"OpenPose JSON: {result.out_dir}/*_keypoints.json"
          + (f"  scenes + annotations: {result.out_dir / 'scenes'}" if synthetic else ""))
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0

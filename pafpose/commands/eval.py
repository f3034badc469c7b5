"""``pafpose eval``: COCO keypoint AP/AR of a model on an annotated image folder."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..errors import UserError
from .arguments import add_command, add_predictor_arguments, build_predictor, report_failures

EXAMPLES = """\
examples:
  pafpose eval --weights model.pt --images coco/val2017 \\
      --annotations coco/annotations/person_keypoints_val2017.json
  pafpose eval --weights model.pt --images coco/val2017 --annotations ann.json \\
      --scales 0.5 1 1.5 2 --flip --out results.json
  pafpose eval --weights model.pt            # the 4 bundled real COCO val2017 images
"""

_ROWS = (
    ("AP", "Average Precision", "0.50:0.95", "all"),
    ("AP50", "Average Precision", "0.50", "all"),
    ("AP75", "Average Precision", "0.75", "all"),
    ("APm", "Average Precision", "0.50:0.95", "medium"),
    ("APl", "Average Precision", "0.50:0.95", "large"),
    ("AR", "Average Recall", "0.50:0.95", "all"),
    ("AR50", "Average Recall", "0.50", "all"),
    ("AR75", "Average Recall", "0.75", "all"),
    ("ARm", "Average Recall", "0.50:0.95", "medium"),
    ("ARl", "Average Recall", "0.50:0.95", "large"),
)


def register(subparsers) -> None:
    from ..io.annotations import SAMPLE_ANNOTATIONS

    parser = add_command(
        subparsers, "eval", run,
        help="COCO keypoint AP/AR of a model on annotated images",
        description="Run the predictor on every image of a COCO person-keypoints annotation file "
                    "and print pycocotools' keypoint AP/AR table; --out also writes the COCO "
                    "results JSON.",
        epilog=EXAMPLES,
    )
    add_predictor_arguments(parser)
    parser.add_argument("--annotations", type=Path, default=SAMPLE_ANNOTATIONS,
                        help="COCO person-keypoints JSON (default: the bundled samples)")
    parser.add_argument("--images", type=Path, default=None,
                        help="image folder (default: images/ beside the annotation file, else its folder)")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the detections as a COCO results JSON file there "
                             "(default: none written)")
    parser.add_argument("--limit", type=int, default=None,
                        help="evaluate the first N images (by id) only, N >= 1")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _value(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "n/a (no ground truth in this range)"


def format_table(stats: dict[str, float]) -> str:
    """The metrics in pycocotools' summary layout (maxDets is 20 for keypoints)."""
    lines = []
    for key, title, iou, area in _ROWS:
        short = "(AP)" if title.startswith("Average Precision") else "(AR)"
        lines.append(f" {title:<18} {short} @[ IoU={iou:<9} | area={area:>6} | maxDets= 20 ] "
                     f"= {_value(stats[key])}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..inference.evaluate import evaluate_keypoints, people_to_coco_results
    from ..io.annotations import default_image_folder, load_coco, read_annotated_image
    from ..io.outputs import ensure_folder, write_json

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    coco = load_coco(args.annotations)
    if coco.skipped_annotations:
        print(f"pafpose eval: left out {len(coco.skipped_annotations)} malformed annotation(s), e.g. "
              f"{coco.skipped_annotations[0]}", file=sys.stderr)
    image_dir = args.images or default_image_folder(args.annotations)
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: image folder not found")
    image_ids = sorted(coco.getImgIds())[: args.limit]
    if not image_ids:
        raise UserError(f"{args.annotations}: lists no images")
    missing = [coco.imgs[i]["file_name"] for i in image_ids
               if not (image_dir / coco.imgs[i]["file_name"]).is_file()]
    if len(missing) == len(image_ids):
        raise UserError(f"{image_dir}: none of the {len(image_ids)} annotated images is there "
                        f"(e.g. {missing[0]})")
    if args.out is not None:  # a folder that cannot be made fails now, not after every image ran
        ensure_folder(args.out.parent)
    predictor = build_predictor(args)
    results: list[dict] = []
    failures: list[str] = []
    evaluated: list[int] = []
    for image_id in tqdm(image_ids, desc="eval", unit="img", disable=args.quiet,
                         dynamic_ncols=True, file=sys.stderr):
        try:
            info = coco.imgs[image_id]
            image = read_annotated_image(image_dir / info["file_name"], info.get("width"), info.get("height"))
        except UserError as err:
            failures.append(str(err))
            continue
        results += people_to_coco_results(predictor.predict(image), image_id)
        evaluated.append(image_id)
    if args.out is not None:
        write_json(args.out, results)
    # Images that were skipped (--limit, unreadable) must not count as misses.
    stats = evaluate_keypoints(coco, results, image_ids=evaluated)
    print(format_table(stats))
    times, count = predictor.timings, len(evaluated)  # the timings are seconds per stage, summed
    if count:
        total = times.preprocess + times.network + times.decode
        print(f"{count} images, {count / max(total, 1e-9):.2f} images/s "
              f"(preprocess {times.preprocess:.1f} s, network {times.network:.1f} s, "
              f"decode {times.decode:.1f} s)" + (f"; results: {args.out}" if args.out else ""))
    return report_failures("eval", failures, "image")


"""Input size and decoder thresholds for the bundled COCO-trained network (mobilenet-thin-coco).

The network runs once per (image, input height) on the 4 bundled COCO val2017 photos (14 people,
12 with keypoints); the maps are then decoded under each setting. Prints, per input height,
COCO keypoint AP (pycocotools), annotated people matched by a detection (OKS >= 0.5) and
detections, for the decoder defaults and for hand-picked peak thresholds, and the network time.

These 4 images choose the recommended input height stored in the checkpoint; they are far too
few to tune thresholds to the third decimal, so the decoder's own defaults (calibrated on the
robustness benchmark, benchmarks/decode_robustness.py) stay unless another setting wins by a
clear margin at every size.

    .venv/bin/python benchmarks/mobilenet_thin.py [--heights 256 368 432 656]
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from pafpose.codec.decode import DecodeParams
from pafpose.inference.evaluate import (
    annotated_people,
    evaluate_keypoints,
    people_found,
    people_to_coco_results,
)
from pafpose.inference.predict import Predictor
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, load_coco
from pafpose.io.images import read_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heights", type=int, nargs="+", default=[256, 320, 368, 432, 496, 560, 656])
    parser.add_argument("--peak-thresholds", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    coco = load_coco(SAMPLE_ANNOTATIONS)
    ids = sorted(coco.getImgIds())
    images = [read_image(SAMPLE_DIR / coco.imgs[i]["file_name"]) for i in ids]
    annotated = annotated_people(coco)
    default = DecodeParams()
    settings = ({"checkpoint's": {}, "PAF 0.05 (the paper's)": {"paf_threshold": 0.05}}
                | {f"peak {t}": {"peak_threshold": t} for t in args.peak_thresholds})
    print(f"decoder defaults: peak_threshold {default.peak_threshold}, paf_threshold "
          f"{default.paf_threshold}, min_score {default.min_score}; {annotated} annotated people\n")
    print("| height | " + " | ".join(settings) + " | network ms |")
    print("|---:|" + "---|" * len(settings) + "---:|")
    for height in args.heights:
        cells = []
        predictor = Predictor("mobilenet-thin-coco", input_height=height)
        recommended = predictor.decode_params
        network = 0.0
        for params in settings.values():
            predictor.decode_params = dataclasses.replace(recommended, **params)
            results = []
            start = predictor.timings.network
            for image_id, image in zip(ids, images):
                results += people_to_coco_results(predictor.predict(image), image_id)
            network = (predictor.timings.network - start) / len(images)
            ap = evaluate_keypoints(coco, results)["AP"] if results else 0.0
            cells.append(f"{ap:.3f} ({people_found(coco, results)}/{annotated}, {len(results)})")
        print(f"| {height} | " + " | ".join(cells) + f" | {1e3 * network:.0f} |", flush=True)


if __name__ == "__main__":
    main()

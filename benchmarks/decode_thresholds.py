"""Decoder thresholds chosen by measured AP: the bundled synthetic-small model on held-out scenes.

Ground-truth maps (benchmarks/decode.py) cannot choose the thresholds, since any threshold works
on clean maps; a trained network's maps can. This draws the 200 validation scenes the bundled
model was validated on (pafpose.data.synth.VAL_SCENES), runs the network once per image, then decodes
the same maps under each setting and scores COCO keypoint AP with pycocotools.

    .venv/bin/python benchmarks/decode_thresholds.py      # about a minute
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pafpose.codec.decode import DecodeParams  # noqa: E402
from pafpose.data.synth import SCENES, VAL_SCENES, generate_dataset  # noqa: E402
from pafpose.inference.evaluate import evaluate_keypoints, people_to_coco_results  # noqa: E402
from pafpose.inference.predict import Predictor, to_original_pixels  # noqa: E402
from pafpose.io.annotations import load_coco  # noqa: E402
from pafpose.io.bundled import SYNTHETIC_WEIGHTS as BUNDLED  # noqa: E402
from pafpose.io.images import read_image  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=BUNDLED)
    parser.add_argument("--images", type=int, default=VAL_SCENES[1])
    args = parser.parse_args()
    torch.set_num_threads(2)
    predictor = Predictor(args.weights)
    with tempfile.TemporaryDirectory() as tmp:
        stats = generate_dataset(tmp, args.images, seed=VAL_SCENES[0], **SCENES)
        coco = load_coco(stats.annotation_file)
        ids = sorted(coco.getImgIds())
        maps, factors = [], []
        for image_id in ids:
            image = read_image(Path(tmp) / "images" / coco.imgs[image_id]["file_name"])
            maps.append(predictor.maps(image))
            factors.append(predictor.resize_factors(image.shape[1::-1]))

    def ap(**params) -> dict:
        results = []
        for image_id, (heatmaps, pafs), (fx, fy) in zip(ids, maps, factors):
            people = predictor.codec.decode(heatmaps, pafs, **params)
            for person in people:
                to_original_pixels(person.keypoints, fx, fy)
            results += people_to_coco_results(people, image_id)
        return evaluate_keypoints(coco, results, ids)

    default = DecodeParams()
    print(f"{args.weights} on {len(ids)} held-out scenes ({SCENES}), seed {VAL_SCENES[0]}; "
          f"defaults: peak_threshold {default.peak_threshold}, paf_threshold {default.paf_threshold}, "
          f"min_score {default.min_score}\n")
    print("| peak_threshold | min_score | AP | AP50 | AP75 | AR |")
    print("|---:|---:|---:|---:|---:|---:|")
    for peak, score in itertools.product((0.03, 0.05, 0.1, 0.2, 0.3), (0.2, 0.4, 0.6)):
        m = ap(peak_threshold=peak, min_score=score)
        print(f"| {peak} | {score} | {m['AP']:.3f} | {m['AP50']:.3f} | {m['AP75']:.3f} | {m['AR']:.3f} |", flush=True)
    print("\n| paf_threshold | min_inlier_fraction | AP |")
    print("|---:|---:|---:|")
    for paf, inliers in itertools.product((0.02, 0.025, 0.05, 0.1), (0.6, 0.8)):
        m = ap(paf_threshold=paf, min_inlier_fraction=inliers)
        print(f"| {paf} | {inliers} | {m['AP']:.3f} |", flush=True)
    print("\n| matching | refine | AP |")
    print("|---|---|---:|")
    for matching, refine in itertools.product(("greedy", "hungarian"), ("quadratic", "centroid", "none")):
        m = ap(matching=matching, refine=refine)
        print(f"| {matching} | {refine} | {m['AP']:.3f} |", flush=True)


if __name__ == "__main__":
    main()

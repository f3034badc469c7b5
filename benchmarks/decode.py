"""Decoding speed and accuracy: pafpose.codec.decode vs a loop-based reference decoder, same run.

Speed: ground-truth maps of synthetic scenes (``testkit.degrade.synthetic_people``) at 46x46
(368x368 input) and 160x120 (1280x960 input) with 1, 5, 10, 20, 40 people, against the decoder
before the robustness work (commit 7f7e151, read from git history by
``benchmarks/git_baseline.py``; its columns read nan without git) timed alternately in
the same run, and the loop-based reference: the algorithm as the common open-source Python ports
write it (maps upsampled to input size (bicubic), Gaussian smoothing (sigma 3), 4-neighbour NMS,
then Python loops over candidates, pairs and samples and the CMU subset assembly). Times are
CPU time of this single-threaded process (on a shared machine wall time also counts the other
users' work): minimum and median over ``--repeats`` alternating rounds.

Accuracy: COCO keypoint AP (pycocotools) of the 4 real COCO sample images, maps rendered from
their annotations at stride 8, clean and degraded (blurred, attenuated, noisy with fixed seeds),
for each refinement / matching.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decode.py [--repeats 10]   # about 2 minutes
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from git_baseline import decoder_7f7e151 as load_baseline  # noqa: E402  (benchmarks/ is the script's folder)

from pafpose.codec.decode import decode  # noqa: E402
from pafpose.codec.head import PafCodec  # noqa: E402
from pafpose.codec.people import Person  # noqa: E402
from pafpose.codec.skeleton import COCO18  # noqa: E402
from pafpose.inference.evaluate import evaluate_keypoints, people_to_coco_results  # noqa: E402
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco  # noqa: E402
from testkit.degrade import synthetic_people  # noqa: E402

CODEC = PafCodec()
STRIDE = CODEC.stride
INPUTS = ((368, 368), (1280, 960))
CROWDS = (1, 5, 10, 20, 40)


# --------------------------------------------------------------------------------------------
# the loop-based reference (pytorch-openpose style)
# --------------------------------------------------------------------------------------------


def reference_decode(heatmaps: np.ndarray, pafs: np.ndarray, stride: int, peak_threshold=0.1,
                     paf_threshold=0.05, num_samples=10) -> list[Person]:
    heat = cv2.resize(np.ascontiguousarray(heatmaps[:18].transpose(1, 2, 0)), None, fx=stride,
                      fy=stride, interpolation=cv2.INTER_CUBIC)
    paf = cv2.resize(np.ascontiguousarray(pafs.transpose(1, 2, 0)), None, fx=stride, fy=stride,
                     interpolation=cv2.INTER_CUBIC)
    image_height = heat.shape[0]
    candidates, peaks_by_type = [], []
    for part in range(18):
        smooth = gaussian_filter(heat[:, :, part], sigma=3)
        left, right, up, down = (np.zeros(smooth.shape) for _ in range(4))
        left[1:, :], right[:-1, :] = smooth[:-1, :], smooth[1:, :]
        up[:, 1:], down[:, :-1] = smooth[:, :-1], smooth[:, 1:]
        binary = np.logical_and.reduce((smooth >= left, smooth >= right, smooth >= up,
                                        smooth >= down, smooth > peak_threshold))
        found = []
        for y, x in zip(*np.nonzero(binary)):
            found.append((x, y, heat[y, x, part], len(candidates)))
            candidates.append((x, y, heat[y, x, part]))
        peaks_by_type.append(found)

    connections = []
    for k, (ja, jb) in enumerate(COCO18.limbs):
        cand_a, cand_b = peaks_by_type[ja], peaks_by_type[jb]
        scored = []
        for i in range(len(cand_a)):
            for j in range(len(cand_b)):
                vec = np.subtract(cand_b[j][:2], cand_a[i][:2])
                norm = math.sqrt(vec[0] * vec[0] + vec[1] * vec[1])
                if norm == 0:
                    continue
                vec = np.divide(vec, norm)
                points = list(zip(np.linspace(cand_a[i][0], cand_b[j][0], num=num_samples),
                                  np.linspace(cand_a[i][1], cand_b[j][1], num=num_samples)))
                vec_x = np.array([paf[int(round(p[1])), int(round(p[0])), 2 * k] for p in points])
                vec_y = np.array([paf[int(round(p[1])), int(round(p[0])), 2 * k + 1] for p in points])
                along = vec_x * vec[0] + vec_y * vec[1]
                score = sum(along) / len(along) + min(0.5 * image_height / norm - 1, 0)
                if len(np.nonzero(along > paf_threshold)[0]) >= 0.8 * len(along) and score > 0:
                    scored.append([i, j, score])
        scored.sort(key=lambda c: c[2], reverse=True)
        chosen, used_a, used_b = [], set(), set()
        for i, j, score in scored:
            if i not in used_a and j not in used_b:
                chosen.append((cand_a[i][3], cand_b[j][3], score))
                used_a.add(i)
                used_b.add(j)
                if len(chosen) >= min(len(cand_a), len(cand_b)):
                    break
        connections.append(chosen)

    subsets = []  # [18 candidate ids..., total score, parts]
    for k, (ja, jb) in enumerate(COCO18.limbs):
        for a, b, score in connections[k]:
            owners = [s for s in subsets if s[ja] == a or s[jb] == b]
            if len(owners) == 1:
                s = owners[0]
                if s[jb] != b:
                    s[jb] = b
                    s[-1] += 1
                    s[-2] += candidates[b][2] + score
            elif len(owners) == 2:
                s1, s2 = owners
                if not any(x >= 0 and y >= 0 for x, y in zip(s1[:18], s2[:18])):
                    for n in range(18):
                        s1[n] = max(s1[n], s2[n])
                    s1[-1] += s2[-1]
                    s1[-2] += s2[-2] + score
                    subsets.remove(s2)
                else:
                    s2[jb] = b
                    s2[-1] += 1
                    s2[-2] += candidates[b][2] + score
            elif not owners:
                row = [-1] * 18 + [candidates[a][2] + candidates[b][2] + score, 2]
                row[ja], row[jb] = a, b
                subsets.append(row)
    people = []
    for s in subsets:
        if s[-1] < 3 or s[-2] / s[-1] < 0.4:
            continue
        keypoints = np.zeros((18, 3))
        for n in range(18):
            if s[n] >= 0:
                keypoints[n] = candidates[s[n]]
        people.append(Person(keypoints, s[-2] / s[-1]))
    return sorted(people, key=lambda p: -p.score)


# --------------------------------------------------------------------------------------------
# speed
# --------------------------------------------------------------------------------------------


def scene(num_people: int, image_size: tuple[int, int], seed: int):
    """Ground-truth maps of ``num_people`` synthetic people filling an image of (W, H) pixels."""
    cols = math.ceil(math.sqrt(num_people))
    rows = math.ceil(num_people / cols)
    cell = (image_size[0] // cols, image_size[1] // rows)
    keypoints, _ = synthetic_people(num_people, np.random.default_rng(seed), cell=cell)
    return CODEC.encode(keypoints, image_size)


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """(min, median) milliseconds of CPU time over ``repeats`` calls, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        result = fn()
        times.append((time.process_time() - start) * 1e3)
    return min(times), statistics.median(times), result


def speed_table(repeats: int) -> list[dict]:
    """Timings per scene, today's decoder and the baseline (when git has it) alternately, so
    that load on the shared machine hits both alike."""
    baseline = load_baseline()

    def before(heatmaps, pafs):
        return baseline.decode(heatmaps, pafs, STRIDE, CODEC.skeleton)

    rows = []
    for image_size in INPUTS:
        for crowd in CROWDS:
            heatmaps, pafs = scene(crowd, image_size, seed=crowd)
            ours, base = [], []
            for _ in range(repeats):
                ours.append(timed(lambda: decode(heatmaps, pafs), 1)[0])
                if baseline is not None:
                    base.append(timed(lambda: before(heatmaps, pafs), 1)[0])
            people = decode(heatmaps, pafs)
            hung_min, _, _ = timed(lambda: decode(heatmaps, pafs, matching="hungarian"), repeats)
            ref_min, _, ref_people = timed(lambda: reference_decode(heatmaps, pafs, STRIDE), 1)
            rows.append(dict(maps=f"{heatmaps.shape[2]}x{heatmaps.shape[1]}", people=crowd,
                             found=len(people), ref_found=len(ref_people), ours=min(ours),
                             ours_median=statistics.median(ours), before=min(base, default=math.nan),
                             before_median=statistics.median(base) if base else math.nan,
                             hungarian=hung_min, reference=ref_min))
            print(f"  {rows[-1]['maps']} {crowd:2d} people: {rows[-1]['ours']:.2f} ms", file=sys.stderr)
    return rows


# --------------------------------------------------------------------------------------------
# accuracy
# --------------------------------------------------------------------------------------------


def degrade(heatmaps, pafs, blur=0.0, gain=1.0, noise=0.0, seed=0):
    """Maps blurred by a Gaussian of ``blur`` cells, scaled by ``gain``, plus N(0, noise)."""
    rng = np.random.default_rng(seed)
    out = []
    for maps in (heatmaps, pafs):
        maps = maps.copy()
        if blur:
            maps = np.stack([cv2.GaussianBlur(m, (0, 0), blur) for m in maps])
        maps = maps * gain + rng.normal(0.0, noise, size=maps.shape).astype(np.float32) * (noise > 0)
        out.append(maps.astype(np.float32))
    return out


CONDITIONS = {
    "clean": {},
    "blur 1 cell": {"blur": 1.0},
    "x0.5": {"gain": 0.5},
    "noise 0.05": {"noise": 0.05},
    "noise 0.1": {"noise": 0.1},
    "blur 1 + x0.6 + noise 0.05": {"blur": 1.0, "gain": 0.6, "noise": 0.05},
}
SEEDS = (0, 1, 2)
# Noise 0.1 leaves ~1000 peaks per map after the reference's smoothing: its pair loops then take
# over a minute per image.
REFERENCE_SKIPS = {"noise 0.1"}
DECODERS = {
    "refine quadratic, greedy (default)": lambda h, p: decode(h, p),
    "refine quadratic, hungarian": lambda h, p: decode(h, p, matching="hungarian"),
    "refine quadratic, no smoothing": lambda h, p: decode(h, p, smooth_sigma=0),
    "refine centroid": lambda h, p: decode(h, p, refine="centroid"),
    "snap to grid (refine none)": lambda h, p: decode(h, p, refine="none"),
    "loop reference": lambda h, p: reference_decode(h, p, STRIDE),
}


def accuracy_table() -> dict[str, dict[str, float]]:
    coco = load_coco(SAMPLE_ANNOTATIONS)
    images = []
    for image in coco.dataset["images"]:
        keypoints = CODEC.keypoints(coco.loadAnns(coco.getAnnIds(imgIds=image["id"])))
        images.append((image["id"], *CODEC.encode(keypoints, (image["width"], image["height"]))))
    table: dict[str, dict[str, float]] = {name: {} for name in DECODERS}
    for condition, settings in CONDITIONS.items():
        seeds = SEEDS if settings.get("noise") else (0,)
        for name, run in DECODERS.items():
            if name == "loop reference":
                if condition in REFERENCE_SKIPS:
                    table[name][condition] = float("nan")
                    continue
                seeds = seeds[:1]  # the reference is slow; one seed
            scores = []
            for seed in seeds:
                results = []
                for image_id, heatmaps, pafs in images:
                    h, p = degrade(heatmaps, pafs, seed=seed, **settings)
                    results += people_to_coco_results(run(h, p), image_id)
                scores.append(evaluate_keypoints(coco, results)["AP"])
            table[name][condition] = float(np.mean(scores))
        print(f"  {condition}: done", file=sys.stderr)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)

    rows = speed_table(args.repeats)
    print("\n### Decode time per image (one thread, CPU time, ground-truth maps, min (median) of "
          f"{args.repeats} alternating runs; reference: 1 run)\n")
    print("| maps | people (found / reference found) | pafpose ms | 7f7e151 ms | ratio of medians "
          "| hungarian ms | loop reference ms | speed-up vs reference |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['maps']} | {r['people']} ({r['found']} / {r['ref_found']}) | {r['ours']:.2f} "
              f"({r['ours_median']:.2f}) | {r['before']:.2f} ({r['before_median']:.2f}) "
              f"| {r['ours_median'] / r['before_median']:.2f} | {r['hungarian']:.2f} "
              f"| {r['reference']:.0f} | {r['reference'] / r['ours']:.0f}x |")
    for maps in sorted({r["maps"] for r in rows}):
        mine = {r["people"]: r["ours"] for r in rows if r["maps"] == maps}
        print(f"\n{maps}: 40 people / 1 person = {mine[40] / mine[1]:.1f}x")

    table = accuracy_table()
    print("\n### COCO keypoint AP, 4 real COCO val2017 images, ground-truth maps at stride 8 "
          f"(noisy: mean of seeds {SEEDS}, reference: seed 0)\n")
    print("| decoder | " + " | ".join(CONDITIONS) + " |")
    print("|---" * (len(CONDITIONS) + 1) + "|")
    for name, scores in table.items():
        print(f"| {name} | " + " | ".join("n/a" if np.isnan(scores[c]) else f"{scores[c]:.3f}"
                                          for c in CONDITIONS) + " |")


if __name__ == "__main__":
    main()

"""Target generation speed: our numpy and batched-torch renderers vs a per-person full-map reference.

368x368 input, stride 8 (46x46 maps), 18 heatmaps + background, 19 PAFs, with 1, 5 and 20 people
whose poses are the real COCO sample poses placed at random positions and scales. One thread.

    .venv/bin/python benchmarks/targets.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pafpose.codec.head import PafCodec  # noqa: E402
from pafpose.codec.skeleton import COCO18  # noqa: E402
from pafpose.codec.targets import render_heatmaps, render_pafs  # noqa: E402
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco  # noqa: E402

CODEC = PafCodec()  # the default head: COCO-18, stride 8, sigma 7, limb width 1
SIZE, STRIDE, SIGMA, WIDTH = 368, CODEC.stride, CODEC.spec.sigma, CODEC.spec.limb_width
MAP = CODEC.map_size((SIZE, SIZE))


def reference_targets(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The straightforward way: every person's every keypoint and limb over the whole map."""
    w, h = MAP
    centres_x = CODEC.spec.cells_to_pixels(np.arange(w))
    centres_y = CODEC.spec.cells_to_pixels(np.arange(h))
    xx, yy = np.meshgrid(centres_x, centres_y)
    heatmaps = np.zeros((19, h, w), np.float32)
    for person in keypoints:
        for k, (x, y, v) in enumerate(person):
            if v > 0:
                g = np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / SIGMA**2)
                g[g < 0.01] = 0
                heatmaps[k] = np.maximum(heatmaps[k], g)
    heatmaps[18] = np.maximum(1 - heatmaps[:18].max(0), 0)
    pafs = np.zeros((38, h, w), np.float32)
    counts = np.zeros((19, h, w), np.float32)
    mx, my = CODEC.spec.pixels_to_cells(xx), CODEC.spec.pixels_to_cells(yy)
    for person in keypoints:
        for l, (a, b) in enumerate(COCO18.limbs):
            if person[a, 2] > 0 and person[b, 2] > 0:
                p1, p2 = CODEC.spec.pixels_to_cells(person[a, :2]), CODEC.spec.pixels_to_cells(person[b, :2])
                length = np.linalg.norm(p2 - p1)
                if length < 1e-8:
                    continue
                u = (p2 - p1) / length
                along = (mx - p1[0]) * u[0] + (my - p1[1]) * u[1]
                across = np.abs((mx - p1[0]) * u[1] - (my - p1[1]) * u[0])
                inside = (along >= 0) & (along <= length) & (across <= WIDTH)
                pafs[2 * l][inside] += u[0]
                pafs[2 * l + 1][inside] += u[1]
                counts[l][inside] += 1
    pafs /= np.repeat(np.maximum(counts, 1), 2, axis=0)
    return heatmaps, pafs


def make_scenes(num_scenes: int, people: int, rng: np.random.Generator) -> np.ndarray:
    """(S, P, 18, 3) scenes of real COCO poses, rescaled to 60-250 px tall, placed anywhere."""
    coco = load_coco(SAMPLE_ANNOTATIONS)
    poses = CODEC.keypoints(coco.loadAnns(coco.getAnnIds()))
    scenes = np.zeros((num_scenes, people, 18, 3))
    for s in range(num_scenes):
        for p in range(people):
            pose = poses[rng.integers(len(poses))].copy()
            seen = pose[:, 2] > 0
            lo, hi = pose[seen, :2].min(0), pose[seen, :2].max(0)
            scale = rng.uniform(60, 250) / max(hi[1] - lo[1], 1.0)
            pose[:, :2] = (pose[:, :2] - lo) * scale + rng.uniform(-40, SIZE - 40, 2)
            scenes[s, p] = pose
    return scenes


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenes", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    print(f"input {SIZE}x{SIZE}, maps {MAP[0]}x{MAP[1]}, 19 heatmaps + 38 PAF channels, 1 thread")
    print("| people | reference ms/sample | numpy ms/sample | numpy samples/s | speed-up numpy "
          "| torch batch-32 ms/sample | speed-up torch |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for people in (1, 5, 20):
        scenes = make_scenes(args.scenes, people, rng)
        for scene in scenes[:4]:  # same maps as the reference, so the comparison is fair
            ref_h, ref_p = reference_targets(scene)
            np.testing.assert_allclose(render_heatmaps(scene, MAP, STRIDE, SIGMA), ref_h, atol=1e-5)
            np.testing.assert_allclose(render_pafs(scene, COCO18.limbs, MAP, STRIDE, WIDTH), ref_p, atol=1e-5)

        def ours():
            for scene in scenes:
                render_heatmaps(scene, MAP, STRIDE, SIGMA)
                render_pafs(scene, COCO18.limbs, MAP, STRIDE, WIDTH)

        def reference():
            for scene in scenes[:16]:
                reference_targets(scene)

        batch = torch.from_numpy(scenes[:32]).float()

        def batched():
            render_heatmaps(batch, MAP, STRIDE, SIGMA)
            render_pafs(batch, COCO18.limbs, MAP, STRIDE, WIDTH)

        t_ours = best_time(ours, args.repeats) / len(scenes)
        t_ref = best_time(reference, max(1, args.repeats // 2)) / 16
        t_torch = best_time(batched, args.repeats) / len(batch)
        print(f"| {people} | {t_ref * 1e3:.2f} | {t_ours * 1e3:.3f} | {1 / t_ours:,.0f} | "
              f"{t_ref / t_ours:.1f}x | {t_torch * 1e3:.3f} | {t_ref / t_torch:.1f}x |")
    print("targets: numpy >= 10x the reference and >= 2,000 samples/s at 5 people")


if __name__ == "__main__":
    main()

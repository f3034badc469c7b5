"""Data pipeline throughput: training samples/s of one worker process (one core), and where time goes.

Synthetic 640x480 JPEG scenes with 1-5 annotated people (plus the generator's crowds and
unannotated people) go through ``CocoPoseDataset.__getitem__`` with training augmentation to
368x368 crops with 19 heatmaps, 38 PAFs and a loss mask. The stages are then timed one by one on
the same samples; the baseline is JPEG decoding alone, the floor of any pipeline that reads COCO.

    .venv/bin/python benchmarks/data.py [--images 200] [--samples 400] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pafpose.codec.masks import loss_mask  # noqa: E402
from pafpose.data import CocoPoseDataset, DataConfig  # noqa: E402
from pafpose.data.augment import to_network_input, warp_image, warp_keypoints, warp_mask  # noqa: E402
from pafpose.data.synth import generate_dataset  # noqa: E402
from pafpose.io.images import read_image  # noqa: E402


def stage_times(dataset: CocoPoseDataset, indices: np.ndarray, seed: int) -> dict[str, float]:
    """Seconds per sample of each stage of ``CocoPoseDataset.sample``, in its order."""
    cfg, codec = dataset.cfg, dataset.codec
    rng = np.random.default_rng(seed)
    totals = dict.fromkeys(("decode JPEG + annotations", "warp image", "colour + to float", "targets", "mask"), 0.0)
    for index in indices:
        record = dataset.records[dataset.samples[index][0]]
        t0 = time.perf_counter()
        image = read_image(record.path)
        annotations = record.annotations
        t1 = time.perf_counter()
        aug = dataset.augmentation(index, image.shape[1::-1], rng)
        crop = warp_image(image, aug)
        t2 = time.perf_counter()
        torch.from_numpy(to_network_input(crop, aug))
        t3 = time.perf_counter()
        keypoints = warp_keypoints(codec.keypoints(annotations), aug, codec.skeleton)
        codec.encode(keypoints, (cfg.crop_size, cfg.crop_size))
        t4 = time.perf_counter()
        mask = loss_mask(annotations, *image.shape[:2], cfg.min_keypoints, cfg.min_area)
        codec.encode_mask(warp_mask(mask, aug))
        t5 = time.perf_counter()
        for key, dt in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            totals[key] += dt
    return {k: v / len(indices) for k, v in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="synthetic 640x480 images to generate")
    parser.add_argument("--samples", type=int, default=400, help="samples per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        stats = generate_dataset(tmp, args.images, max_people=5, seed=0, image_size=(640, 480), empty_prob=0.0)
        dataset = CocoPoseDataset(f"{tmp}/images", stats.annotation_file, DataConfig(), train=True, seed=0)
        indices = np.random.default_rng(0).integers(len(dataset), size=args.samples)
        print(f"{stats.images} synthetic 640x480 JPEGs, {stats.people} annotated people "
              f"({stats.crowd_regions} crowd regions, {stats.unannotated} unannotated people), "
              f"{len(dataset)} training samples (one per main person); crops 368x368; 1 process, 1 thread")
        print(f"(generation: {stats.images / stats.seconds:.0f} images/s at 640x480 including JPEG encoding)")

        full, splits = [], []
        for repeat in range(args.repeats + 1):  # interleaved, so both see the same machine load
            start = time.perf_counter()
            for i in indices:
                dataset[int(i)]
            full.append((time.perf_counter() - start) / len(indices))
            splits.append(stage_times(dataset, indices, repeat))
        full, splits = full[1:], splits[1:]  # the first round warms caches
        stages = min(splits, key=lambda t: sum(t.values()))
        per_sample = min(full)

    decode = stages["decode JPEG + annotations"]
    print("\n| stage | ms/sample | share |")
    print("|---|---:|---:|")
    for name, seconds in stages.items():
        print(f"| {name} | {seconds * 1e3:.2f} | {seconds / sum(stages.values()):.0%} |")
    print(f"| **__getitem__ total** | **{per_sample * 1e3:.2f}** | |")
    print(f"\nsamples/s per worker process: {1 / per_sample:,.0f} (median of {args.repeats}: "
          f"{1 / float(np.median(full)):,.0f}); JPEG decoding alone (baseline): {1 / decode:,.0f}/s; "
          f"full pipeline costs {per_sample / decode:.2f}x the decode")
    print(f"target >= 100 samples/s per core: {'met' if 1 / per_sample >= 100 else 'NOT met'}")


if __name__ == "__main__":
    main()

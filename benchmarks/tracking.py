"""Tracking: identity metrics per scenario, tracker speed, and memory over an endless stream.

Sequences (``testkit.motion``): the five synthetic scenarios (walking, crossing,
occlusion (each walker wholly hidden for 5 frames every 40-70 frames, and 5-frame blank gaps),
leave/re-enter, pan/zoom; 300 frames at 640x480,
30 fps, seeds 0..2) and a real COCO photo panned and zoomed over (the 4 bundled photos, 20
frames each).

Detections: for the synthetic scenarios, maps rendered from the visible keypoints
(``PafCodec.encode``, COCO-18 head, stride 8) and decoded by ``PafCodec.decode``, as a network's
would be; "degraded" drops 5 % of the people from each frame, moves visible keypoints by 2 px of
Gaussian noise and removes 10 % of the heatmap peaks (their PAFs stay). For the photo, the bundled network
(``pafpose.Predictor()``) on each view.

Metrics (py-motmetrics): IDF1, MOTA, id switches (also per 1,000 ground-truth person-frames).
A detection matches a ground-truth person at OKS >= 0.5 (COCO sigmas, the person's keypoint box
as area); ground-truth people with fewer than 4 visible keypoints are "don't care": neither
counted as misses nor their detections as false positives.

Speed: ``PoseTracker.update`` on 20 people moving at random, mean and median ms per frame over
2,000 frames. Memory: tracemalloc's traced memory over a simulated 100,000-frame stream of people
entering and leaving (about 5 at a time), sampled every 10,000 frames.

    pip install 'pafpose[track-eval]'   # py-motmetrics
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tracking.py [--quick] [--no-photo] [--stream N] [--norfair]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pafpose.codec.head import PafCodec  # noqa: E402
from pafpose.codec.people import Person  # noqa: E402
from pafpose.codec.skeleton import COCO_SIGMAS, COCO18, convert_keypoints  # noqa: E402
from testkit.motion import SCENARIOS, MotionSequence, make_scenario, photo_sequence  # noqa: E402
from pafpose.tracking import OneEuroSmoother, PoseTracker, TrackerConfig  # noqa: E402

CODEC = PafCodec()
MATCH_OKS = 0.5
MIN_VISIBLE = 4


def oks_matrix(truth: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(G, D) COCO OKS of (G, 17, 3) ground truth (v) against (D, 17, 3) detections (c > 0),
    over the ground truth's visible keypoints, with its keypoint box as the area."""
    if not len(truth) or not len(found):
        return np.zeros((len(truth), len(found)))
    vis = truth[..., 2] > 1
    lo = np.where(vis[..., None], truth[..., :2], np.inf).min(axis=1)
    hi = np.where(vis[..., None], truth[..., :2], -np.inf).max(axis=1)
    area = np.maximum(np.prod(np.where(np.isfinite(hi - lo), hi - lo, 0), axis=1), 1.0)
    d2 = np.square(truth[:, None, :, :2] - found[None, :, :, :2]).sum(-1)
    e = np.exp(-d2 / (2 * area[:, None, None] * np.square(2 * COCO_SIGMAS)))
    e = np.where(found[None, :, :, 2] > 0, e, 0.0)
    return (e * vis[:, None]).sum(-1) / np.maximum(vis.sum(-1), 1)[:, None]


def detections_from_maps(seq: MotionSequence, degrade: bool, seed: int) -> list[list[Person]]:
    """Each frame's people as the decoder finds them in maps of the visible keypoints."""
    rng = np.random.default_rng(seed)
    frames = []
    for kp in seq.keypoints:
        kp = kp.copy()
        kp[..., 2] = (kp[..., 2] > 1).astype(float)  # the detector sees visible keypoints only
        peaks = kp
        if degrade:  # keypoints jitter, peaks vanish (their PAFs stay), people are missed
            kp = kp[rng.random(len(kp)) >= 0.05]
            kp[..., :2] += rng.normal(0, 2.0, kp[..., :2].shape)
            peaks = kp.copy()
            peaks[..., 2] *= rng.random(kp.shape[:2]) >= 0.1
        heatmaps, _ = CODEC.encode(convert_keypoints(peaks, COCO18), seq.image_size)
        _, pafs = CODEC.encode(convert_keypoints(kp, COCO18), seq.image_size)
        frames.append(CODEC.decode(heatmaps, pafs))
    return frames


def track(frames: list[list[Person]], fps: float, config: TrackerConfig | None = None,
          smooth: bool = False) -> list[list[Person]]:
    tracker = PoseTracker(config)
    smoother = OneEuroSmoother() if smooth else None
    out = []
    for i, people in enumerate(frames):
        people = tracker.update(people, i / fps)
        out.append(smoother.update(people, i / fps) if smoother else people)
    return out


def track_norfair(frames: list[list[Person]], image_height: int) -> list[list[Person]]:
    """The same detections through norfair (its keypoint-voting distance and settings from its
    OpenPose demo: keypoints match within height / 25 pixels), for comparison."""
    import copy

    from norfair import Detection, Tracker
    from norfair.distances import create_keypoints_voting_distance

    tracker = Tracker(distance_function=create_keypoints_voting_distance(image_height / 25, 0.01),
                      distance_threshold=0.4, detection_threshold=0.01, hit_counter_max=30,
                      initialization_delay=1, pointwise_hit_counter_max=4)
    out = []
    for people in frames:
        people = copy.deepcopy(people)
        detections = [Detection(p.keypoints[:, :2], scores=np.maximum(p.keypoints[:, 2], 0), data=i)
                      for i, p in enumerate(people)]
        for obj in tracker.update(detections):
            if obj.last_detection in detections and obj.id is not None:
                people[obj.last_detection.data].track_id = int(obj.id)
        out.append(people)
    return out


def norfair_rows(seeds: list[int], frames: int) -> list[str]:
    """IDF1 etc. of norfair per scenario (clean maps), and its ms per frame at 20 people."""
    lines = []
    for name in SCENARIOS:
        results = []
        for seed in seeds:
            seq = make_scenario(name, frames=frames, seed=seed)
            results.append(identity_metrics(seq, track_norfair(detections_from_maps(seq, False, seed),
                                                               seq.image_size[1])))
        lines.append(_row(f"{name} (norfair)", results))
    rng = np.random.default_rng(0)
    base, velocity = _random_walkers(rng, 20)
    frames_20 = [[Person(np.concatenate([k, np.ones((18, 1))], axis=1), 1.0)
                  for k in base + velocity * f + rng.normal(0, 1.5, base.shape)] for f in range(300)]
    start = time.perf_counter()
    track_norfair(frames_20, 1000)
    lines.append(f"norfair: {1e3 * (time.perf_counter() - start) / len(frames_20):.2f} ms per frame "
                 "at 20 people (including copying the people)")
    return lines


def identity_metrics(seq: MotionSequence, tracked: list[list[Person]]) -> dict:
    """IDF1, MOTA, id switches of tracked people against the sequence's ground truth."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    person_frames = 0
    for ids, truth, people in zip(seq.ids, seq.keypoints, tracked):
        people = [p for p in people if p.track_id >= 0]
        found = np.array([p.to_coco17() for p in people]).reshape(-1, 17, 3)
        oks = oks_matrix(truth, found)
        care = (truth[..., 2] > 1).sum(-1) >= MIN_VISIBLE
        # Detections of don't-care people only are left out, not counted as false positives.
        ignored = (oks[~care] >= MATCH_OKS).any(0) & ~(oks[care] >= MATCH_OKS).any(0)
        oks = oks[care][:, ~ignored]
        hyp = [p.track_id for p, drop in zip(people, ignored) if not drop]
        acc.update(ids[care].tolist(), hyp, np.where(oks >= MATCH_OKS, 1 - oks, np.nan))
        person_frames += int(care.sum())
    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=["idf1", "mota", "num_switches"], name="x")
    return {"idf1": float(summary["idf1"].iloc[0]), "mota": float(summary["mota"].iloc[0]),
            "switches": int(summary["num_switches"].iloc[0]), "person_frames": person_frames}


def _row(name: str, results: list[dict]) -> str:
    frames = sum(r["person_frames"] for r in results)
    switches = sum(r["switches"] for r in results)
    idf1 = np.average([r["idf1"] for r in results], weights=[r["person_frames"] for r in results])
    mota = np.average([r["mota"] for r in results], weights=[r["person_frames"] for r in results])
    return (f"| {name} | {frames} | {idf1:.3f} | {mota:.3f} | {switches} | "
            f"{1000 * switches / max(frames, 1):.2f} |")


def scenario_table(seeds: list[int], frames: int, degrade: bool) -> list[str]:
    lines = []
    for name in SCENARIOS:
        results = []
        for seed in seeds:
            seq = make_scenario(name, frames=frames, seed=seed)
            detections = detections_from_maps(seq, degrade, seed)
            results.append(identity_metrics(seq, track(detections, seq.fps)))
        lines.append(_row(name, results))
    return lines


def photo_rows(frames: int) -> list[str]:
    import cv2

    import pafpose
    from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, load_coco

    coco = load_coco(SAMPLE_ANNOTATIONS)
    predictor = pafpose.Predictor()
    results = []
    for seed, image_id in enumerate(sorted(coco.getImgIds())):
        info = coco.loadImgs(image_id)[0]
        image = cv2.imread(str(SAMPLE_DIR / info["file_name"]))
        seq = photo_sequence(image, coco.loadAnns(coco.getAnnIds(imgIds=image_id)), frames, seed=seed)
        detections = [predictor.predict(view) for view in seq.images]
        results.append(identity_metrics(seq, track(detections, seq.fps)))
    return [_row("real photo pan/zoom (bundled network)", results)]


def _random_walkers(rng: np.random.Generator, count: int, size: float = 1000.0):
    base = rng.uniform(0, size, (count, 1, 2)) + rng.normal(0, 30, (count, 18, 2))
    return base, rng.normal(0, 4, (count, 1, 2))


def tracker_speed(people: int = 20, frames: int = 2000) -> tuple[float, float]:
    """Mean and median ms per ``PoseTracker.update`` on ``people`` people moving at random."""
    rng = np.random.default_rng(0)
    base, velocity = _random_walkers(rng, people)
    tracker = PoseTracker()
    times = []
    for f in range(frames):
        xy = base + velocity * f + rng.normal(0, 1.5, base.shape)
        detections = [Person(np.concatenate([k, np.ones((18, 1))], axis=1), 1.0) for k in xy]
        start = time.perf_counter()
        tracker.update(detections, f / 30)
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.mean(times)), 1e3 * float(np.median(times))


def smoother_speed(people: int = 20, frames: int = 1000) -> float:
    rng = np.random.default_rng(0)
    smoother = OneEuroSmoother()
    kp = [Person(np.concatenate([rng.uniform(0, 500, (18, 2)), np.ones((18, 1))], axis=1), 1.0, track_id=i)
          for i in range(people)]
    start = time.perf_counter()
    for f in range(frames):
        smoother.update(kp, f / 30)
    return 1e3 * (time.perf_counter() - start) / frames


def stream_memory(frames: int, every: int) -> list[tuple[int, float, int]]:
    """(frame, traced KiB, live tracks) over a stream where people keep arriving and leaving."""
    rng = np.random.default_rng(1)
    tracker, smoother = PoseTracker(), OneEuroSmoother()
    # A pool of people, each in view for 50-300 frames; a new one replaces each leaver.
    count = 5
    base, velocity = _random_walkers(rng, count)
    leave = rng.integers(50, 300, count)
    ones = np.ones((18, 1))
    samples = []
    tracemalloc.start()
    for f in range(frames):
        gone = leave <= f
        if gone.any():
            new_base, new_velocity = _random_walkers(rng, int(gone.sum()))
            base[gone], velocity[gone] = new_base - new_velocity * f, new_velocity  # at new_base now
            leave[gone] = f + rng.integers(50, 300, int(gone.sum()))
        xy = base + velocity * f
        people = [Person(np.concatenate([k, ones], axis=1), 1.0) for k in xy]
        smoother.update(tracker.update(people, f / 30), f / 30)
        if (f + 1) % every == 0:
            samples.append((f + 1, tracemalloc.get_traced_memory()[0] / 1024, tracker.num_tracks))
    tracemalloc.stop()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 150 frames, 10 photo frames")
    parser.add_argument("--no-photo", action="store_true", help="skip the bundled network")
    parser.add_argument("--stream", type=int, default=100_000, help="frames of the memory stream")
    parser.add_argument("--norfair", action="store_true", help="also run norfair (pip install norfair)")
    args = parser.parse_args()
    seeds, frames, photo_frames = ([0], 150, 10) if args.quick else ([0, 1, 2], 300, 20)

    header = ["| scenario | person-frames | IDF1 | MOTA | id switches | per 1,000 person-frames |",
              "|---|---:|---:|---:|---:|---:|"]
    for degrade in (False, True):
        print(f"\nmaps from ground truth{', degraded' if degrade else ''} "
              f"(seeds {seeds}, {frames} frames each)")
        print("\n".join(header + scenario_table(seeds, frames, degrade)))
    if args.norfair:
        print("\n".join(["", "norfair on the same clean maps"] + header + norfair_rows(seeds, frames)))
    if not args.no_photo:
        print("\n".join(["", "bundled network, 4 photos"] + header + photo_rows(photo_frames)))
    mean, median = tracker_speed()
    print(f"\ntracker: {mean:.3f} ms mean, {median:.3f} ms median per frame at 20 people; "
          f"smoother {smoother_speed():.3f} ms per frame at 20 people")
    samples = stream_memory(args.stream, max(args.stream // 10, 1))
    print("stream memory (tracker + smoother, tracemalloc): " +
          ", ".join(f"{f}: {kib:.0f} KiB ({n} tracks)" for f, kib, n in samples))


if __name__ == "__main__":
    main()

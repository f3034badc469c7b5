"""Tracking: do ids stay with their person, and never pass to another? Identity metrics on clips
made from real photos, per tracker on the same detections; tracker speed; memory on a stream.

Clips (``testkit.photo_clips``, 432x368 at 30 fps, ids = COCO annotation ids of the 4 bundled
photos' people): "pan away and back" (the camera leaves 5 people for ~1.5 s and returns: long
exits and re-entries, hand-held shake), "cuts and black frames" (four shots of three photos, the
last a cut back to the first photo, 4 black frames inside a shot), "crossing" and "exit and
re-entry" (real people cut out of the photos along their masks, moving over a photo whose own
people are painted out: crossings at the same depth, people leaving for ~2 s and coming back),
"shake and zoom" (strong jitter while zooming in and out). Detections: the bundled network
(``pafpose.Predictor()``) on every frame, cached under ``--cache``; every tracker is fed the
same detections (copies).

Trackers: "after" (``SequenceTracking(PoseTracker)``: frames given, cuts detected), "after, no
frames" (``PoseTracker`` on keypoints only: no looks, no cuts), "before" (the tracker before
issue 26, read from git history by ``git_baseline.py``; left out without it), and those of ``tracking_others.py``: a greedy
centroid tracker, a ByteTrack-style two-stage IoU tracker on the keypoints' boxes, norfair when
installed, and "ids from ground truth" (each detection labelled with the person it matches: the
most any tracker can score with these detections).

``--every 3`` keeps every third frame (10 fps: a pan moves three times as far between frames).

``--seeds 0 1 2`` adds held-out variants of the photo clips (``testkit.photo_clips.bundled_clips``:
other shake, camera keyframes, paths and sizes), reported as the IDF1's spread over seeds.

Metrics (py-motmetrics): IDF1, MOTA, id switches; **theft**: track ids matched to two or more
ground-truth people over a clip; **unlabelled**: detections matching a person (OKS >= 0.5) that
the tracker returned without an id (or left out), as a share of them. A detection matches a
person at OKS >= 0.5 (COCO sigmas, the person's keypoint box as area); people with fewer than 4
visible keypoints are "don't care", and so are detections centred in the box of a person the
photo's annotations have without keypoints (too small to label; like MOT's ignore regions).

With TrackEval installed, also HOTA with its detection and association parts (DetA, AssA),
OKS as the similarity, averaged over TrackEval's thresholds (``pip install --no-deps
trackeval``: only its metrics are used; its declared OpenCV would clash with the headless one).

Also the synthetic scenarios of ``testkit.motion`` (maps of the visible keypoints decoded by
``PafCodec.decode``), tracker speed at 20 people and traced memory over a long stream.

    pip install 'pafpose[track-eval]'   # py-motmetrics
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tracking.py [--quick] [--no-synthetic] [--stream N] [--seeds 0 1 2] [--every N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from git_baseline import tracker_7b30442  # noqa: E402  (benchmarks/ is the script's folder)
from tracking_others import run_bytetrack, run_greedy, run_ground_truth, run_norfair  # noqa: E402

from pafpose.codec.head import PafCodec  # noqa: E402
from pafpose.codec.people import Person  # noqa: E402
from pafpose.codec.skeleton import COCO18, COCO_SIGMAS, convert_keypoints  # noqa: E402
from pafpose.tracking import OneEuroSmoother, PoseTracker, SequenceTracking  # noqa: E402
from testkit.motion import SCENARIOS, MotionSequence, make_scenario  # noqa: E402
from testkit.photo_clips import bundled_clips  # noqa: E402

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


def detections_from_maps(seq: MotionSequence, seed: int) -> list[list[Person]]:
    """Each frame's people as the decoder finds them in maps of the visible keypoints."""
    frames = []
    for kp in seq.keypoints:
        kp = kp.copy()
        kp[..., 2] = (kp[..., 2] > 1).astype(float)  # the detector sees visible keypoints only
        heatmaps, pafs = CODEC.encode(convert_keypoints(kp, COCO18), seq.image_size)
        frames.append(CODEC.decode(heatmaps, pafs))
    return frames


# --- the trackers compared, each: (frames of people, images or None, fps) -> frames of people shown


@dataclass(frozen=True)
class _Clip:
    """A source as SequenceTracking sees one: a video."""

    kind: str = "video"
    path: str = "clip"


def run_after(frames, images, fps):
    seq, source = SequenceTracking(PoseTracker), _Clip()
    return [seq.update(source, i / fps, None if images is None else images[i], people)
            for i, people in enumerate(frames)]


def run_after_no_frames(frames, images, fps):
    tracker = PoseTracker()
    return [tracker.update(people, i / fps) for i, people in enumerate(frames)]


BEFORE = tracker_7b30442()


def run_before(frames, images, fps):
    tracker = BEFORE.PoseTracker()
    return [tracker.update(people, i / fps) for i, people in enumerate(frames)]


def trackers() -> dict:
    found = {"after": run_after, "after, no frames": run_after_no_frames,
             **({"before (7b30442)": run_before} if BEFORE is not None else {}),
             "greedy centroid": run_greedy, "ByteTrack-style (boxes)": run_bytetrack}
    try:
        import norfair  # noqa: F401
        found["norfair 2.3"] = run_norfair
    except ImportError:
        pass
    return found


def _fresh(frames):
    return [[Person(p.keypoints.copy(), p.score) for p in people] for people in frames]


def _in_boxes(found: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(D,) bool: the centre of each detection's seen keypoints lies in one of the (N, 4)
    boxes of people the annotations have without keypoints (grown by half their size)."""
    seen = found[..., 2] > 0
    centre = np.where(seen[..., None], found[..., :2], 0).sum(1) / np.maximum(seen.sum(1), 1)[:, None]
    grow = (boxes[:, 2:] - boxes[:, :2]) / 4
    lo, hi = boxes[:, :2] - grow, boxes[:, 2:] + grow
    return ((centre[:, None] >= lo[None]) & (centre[:, None] <= hi[None])).all(-1).any(1)


def identity_metrics(seq: MotionSequence, detections, tracked) -> dict:
    """IDF1, MOTA, switches, theft and unlabelled share of tracked people against ground truth."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    person_frames = matched_detections = unlabelled = 0
    per_frame = []  # (ground-truth ids, track ids, OKS) for HOTA
    ignore = seq.ignore or [np.zeros((0, 4))] * len(seq)
    for ids, truth, found_all, people, boxes in zip(seq.ids, seq.keypoints, detections, tracked, ignore):
        care = (truth[..., 2] > 1).sum(-1) >= MIN_VISIBLE
        # unlabelled: detections matching a person that come back without an id
        all_kp = np.array([p.to_coco17() for p in found_all]).reshape(-1, 17, 3)
        good = (oks_matrix(truth[care], all_kp) >= MATCH_OKS).any(axis=0)
        shown = {id(p) for p in people if p.track_id >= 0}
        matched_detections += int(good.sum())
        unlabelled += sum(1 for p, g in zip(found_all, good) if g and id(p) not in shown)
        people = [p for p in people if p.track_id >= 0]
        found = np.array([p.to_coco17() for p in people]).reshape(-1, 17, 3)
        oks = oks_matrix(truth, found)
        ignored = ((oks[~care] >= MATCH_OKS).any(0) | _in_boxes(found, boxes)) & ~(oks[care] >= MATCH_OKS).any(0)
        oks = oks[care][:, ~ignored]
        hyp = [p.track_id for p, drop in zip(people, ignored) if not drop]
        acc.update(ids[care].tolist(), hyp, np.where(oks >= MATCH_OKS, 1 - oks, np.nan))
        per_frame.append((ids[care].tolist(), hyp, oks))
        person_frames += int(care.sum())
    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=["idf1", "mota", "num_switches"], name="x")
    events = acc.mot_events
    pairs = events[events["Type"].isin(["MATCH", "SWITCH"])][["OId", "HId"]].dropna()
    theft = int((pairs.groupby("HId")["OId"].nunique() >= 2).sum())
    return {"idf1": float(summary["idf1"].iloc[0]), "mota": float(summary["mota"].iloc[0]),
            "switches": int(summary["num_switches"].iloc[0]), "theft": theft,
            "unlabelled": unlabelled / max(matched_detections, 1), "person_frames": person_frames,
            **hota(per_frame)}


def hota(per_frame: list[tuple[list, list, np.ndarray]]) -> dict:
    """HOTA, DetA and AssA (TrackEval's, averaged over its similarity thresholds 0.05-0.95) with
    OKS as the similarity, from per-frame (ground-truth ids, track ids, (G, H) OKS); empty
    without trackeval."""
    try:
        from trackeval.metrics import HOTA
    except ImportError:
        return {}
    truth, tracks = {}, {}
    data = {"gt_ids": [np.array([truth.setdefault(g, len(truth)) for g in gt], int) for gt, _, _ in per_frame],
            "tracker_ids": [np.array([tracks.setdefault(h, len(tracks)) for h in hyp], int) for _, hyp, _ in per_frame],
            "similarity_scores": [oks for _, _, oks in per_frame]}
    data.update(num_gt_ids=len(truth), num_tracker_ids=len(tracks),
                num_gt_dets=sum(map(len, data["gt_ids"])), num_tracker_dets=sum(map(len, data["tracker_ids"])))
    result = HOTA().eval_sequence(data)
    return {name.lower(): float(np.mean(result[name])) for name in ("HOTA", "DetA", "AssA")}


def evaluate(seq: MotionSequence, detections, images) -> dict[str, dict]:
    results = {}
    for name, run in trackers().items():
        frames = _fresh(detections)
        inputs = [list(people) for people in frames]
        results[name] = identity_metrics(seq, inputs, run(frames, images, seq.fps))
    frames = _fresh(detections)
    results["ids from ground truth"] = identity_metrics(seq, [list(p) for p in frames], run_ground_truth(
        frames, zip(seq.ids, seq.keypoints), oks_matrix))
    return results


def _merge(rs: list[dict]) -> dict:
    """Results over several seeds: sums, means weighted by person-frames, IDF1's spread."""
    weights = [r["person_frames"] for r in rs]
    return {"person_frames": sum(weights), "switches": sum(r["switches"] for r in rs),
            "theft": sum(r["theft"] for r in rs), "idf1_range": (min(r["idf1"] for r in rs), max(r["idf1"] for r in rs)),
            **{m: float(np.average([r[m] for r in rs], weights=weights))
               for m in ("idf1", "mota", "unlabelled", "hota", "deta", "assa") if m in rs[0]}}


# --- clips from the bundled photos


def network_detections(seq: MotionSequence, cache: Path | None, predictor, seed: int = 0) -> list[list[Person]]:
    name = seq.name.replace(' ', '_').replace('/', '_') + (f"_seed{seed}" if seed else "")
    key = cache / f"{name}_{len(seq)}.npz" if cache else None
    if key is not None and key.exists():
        data = np.load(key)
        return [[Person(k, float(s)) for k, s in zip(data[f"k{i}"], data[f"s{i}"])] for i in range(len(seq))]
    frames = [predictor.predict(image) for image in seq.images]
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        np.savez(key, **{f"k{i}": np.array([p.keypoints for p in people]).reshape(-1, 18, 3) for i, people in enumerate(frames)},
                 **{f"s{i}": np.array([p.score for p in people]) for i, people in enumerate(frames)})
    return frames


def every_nth(seq: MotionSequence, n: int) -> MotionSequence:
    """The clip filmed at 1/n of its frame rate: every n-th frame (a camera's pan, people's
    steps n times as far between frames)."""
    return replace(seq, fps=seq.fps / n, ids=seq.ids[::n], keypoints=seq.keypoints[::n],
                   images=seq.images[::n], ignore=seq.ignore[::n])


def _table(rows: list[tuple[str, str, dict]]) -> list[str]:
    with_hota = all("hota" in r for _, _, r in rows)
    lines = ["| clip | tracker | person-frames | IDF1 (seeds' min-max) | MOTA | switches | theft | unlabelled |"
             + (" HOTA (DetA, AssA) |" if with_hota else ""),
             "|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if with_hota else "")]
    for clip, name, r in rows:
        lo, hi = r.get("idf1_range", (r["idf1"], r["idf1"]))
        spread = f" ({lo:.3f}-{hi:.3f})" if hi > lo else ""
        lines.append(f"| {clip} | {name} | {r['person_frames']} | {r['idf1']:.3f}{spread} | {r['mota']:.3f} | "
                     f"{r['switches']} | {r['theft']} | {100 * r['unlabelled']:.1f} % |"
                     + (f" {r['hota']:.3f} ({r['deta']:.3f}, {r['assa']:.3f}) |" if with_hota else ""))
    return lines


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
    parser.add_argument("--quick", action="store_true", help="clips at half length, one synthetic seed")
    parser.add_argument("--no-synthetic", action="store_true", help="only the real-photo clips")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pafpose-tracking-bench"),
                        help="where the network's detections are kept between runs ('' to recompute)")
    parser.add_argument("--stream", type=int, default=100_000, help="frames of the memory stream")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="photo clip variants (0: the README's clips; others held out)")
    parser.add_argument("--every", type=int, default=1,
                        help="keep every n-th frame of the photo clips (2: 15 fps, 3: 10 fps)")
    args = parser.parse_args()
    cache = args.cache if str(args.cache) else None

    import pafpose

    predictor = pafpose.Predictor()
    per = {}  # (clip, tracker) -> results over seeds
    for seed in args.seeds:
        for seq in bundled_clips(0.5 if args.quick else 1.0, seed):
            start = time.perf_counter()
            detections = network_detections(seq, cache, predictor, seed)
            print(f"{seq.name} (seed {seed}): {len(seq)} frames, detections in {time.perf_counter() - start:.1f} s",
                  flush=True)
            if args.every > 1:
                seq, detections = every_nth(seq, args.every), detections[::args.every]
            for name, r in evaluate(seq, detections, seq.images).items():
                per.setdefault((seq.name, name), []).append(r)
    rows = [(clip, name, _merge(rs)) for (clip, name), rs in per.items()]
    print(f"\nbundled network on clips made from the 4 bundled photos (seeds {args.seeds})\n" + "\n".join(_table(rows)))
    print("\nover the clips and seeds: IDF1 min-max, total switches, total theft")
    totals = {}
    for (_, name), rs in per.items():
        totals.setdefault(name, []).extend(rs)
    for name, rs in totals.items():
        idf1 = [r["idf1"] for r in rs]
        print(f"  {name}: IDF1 {min(idf1):.3f}-{max(idf1):.3f} (mean {np.mean(idf1):.3f}), "
              f"switches {sum(r['switches'] for r in rs)}, theft {sum(r['theft'] for r in rs)}, "
              f"unlabelled {100 * np.mean([r['unlabelled'] for r in rs]):.1f} %"
              + (f", HOTA {np.mean([r['hota'] for r in rs]):.3f} (DetA {np.mean([r['deta'] for r in rs]):.3f}, "
                 f"AssA {np.mean([r['assa'] for r in rs]):.3f})" if "hota" in rs[0] else ""))

    if not args.no_synthetic:
        seeds, frames = ([0], 150) if args.quick else ([0, 1, 2, 3], 300)
        rows = []
        for scenario in SCENARIOS:
            per = {}
            for seed in seeds:
                seq = make_scenario(scenario, frames=frames, seed=seed)
                for name, r in evaluate(seq, detections_from_maps(seq, seed), None).items():
                    per.setdefault(name, []).append(r)
            rows.extend((scenario, name, _merge(rs)) for name, rs in per.items())
        print(f"\nsynthetic walkers, maps decoded (seeds {seeds}, {frames} frames)\n" + "\n".join(_table(rows)))

    mean, median = tracker_speed()
    print(f"\ntracker: {mean:.3f} ms mean, {median:.3f} ms median per frame at 20 people; "
          f"smoother {smoother_speed():.3f} ms per frame at 20 people")
    samples = stream_memory(args.stream, max(args.stream // 10, 1))
    print("stream memory (tracker + smoother, tracemalloc): " +
          ", ".join(f"{f}: {kib:.0f} KiB ({n} tracks)" for f, kib, n in samples))


if __name__ == "__main__":
    main()

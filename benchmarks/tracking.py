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
issue 26, ``baseline_tracker_7b30442.py``), a greedy centroid tracker and a ByteTrack-style
two-stage IoU tracker on the keypoints' boxes (both written below; boxmot itself needs another
opencv, pandas < 3 and torchvision, so it was not installed), and norfair (keypoint voting, its
OpenPose demo's settings) when installed.

Metrics (py-motmetrics): IDF1, MOTA, id switches; **theft**: track ids matched to two or more
ground-truth people over a clip; **unlabelled**: detections matching a person (OKS >= 0.5) that
the tracker returned without an id (or left out), as a share of them. A detection matches a
person at OKS >= 0.5 (COCO sigmas, the person's keypoint box as area); people with fewer than 4
visible keypoints are "don't care", and so are detections centred in the box of a person the
photo's annotations have without keypoints (too small to label; like MOT's ignore regions).

Also the synthetic scenarios of ``testkit.motion`` (maps of the visible keypoints decoded by
``PafCodec.decode``), tracker speed at 20 people and traced memory over a long stream.

    pip install 'pafpose[track-eval]'   # py-motmetrics
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tracking.py [--quick] [--no-synthetic] [--stream N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from baseline_tracker_7b30442 import PoseTracker as BeforeTracker  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from pafpose.codec.head import PafCodec  # noqa: E402
from pafpose.codec.people import Person  # noqa: E402
from pafpose.codec.skeleton import COCO_SIGMAS, COCO18, convert_keypoints  # noqa: E402
from pafpose.tracking import OneEuroSmoother, PoseTracker, SequenceTracking  # noqa: E402
from testkit.motion import SCENARIOS, MotionSequence, make_scenario  # noqa: E402
from testkit.photo_clips import (camera_over_photo, cut_out_people, join_shots,  # noqa: E402
                                 paint_out_people, people_over_background)

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


def run_before(frames, images, fps):
    tracker = BeforeTracker()
    return [tracker.update(people, i / fps) for i, people in enumerate(frames)]


def _boxes(people) -> np.ndarray:
    out = np.zeros((len(people), 4))
    for i, p in enumerate(people):
        seen = p.keypoints[:, 2] > 0
        xy = p.keypoints[seen, :2] if seen.any() else np.zeros((1, 2))
        out[i] = [*xy.min(axis=0), *xy.max(axis=0)]
    return out


def run_greedy(frames, images, fps, max_age: int = 30):
    """Greedy centroid tracker: closest pairs first, within half the person's box diagonal."""
    tracks: dict[int, tuple[np.ndarray, float, int]] = {}  # id -> (centre, diagonal, last frame)
    next_id, out = 0, []
    for f, people in enumerate(frames):
        boxes = _boxes(people)
        centres, diag = (boxes[:, :2] + boxes[:, 2:]) / 2, np.hypot(*(boxes[:, 2:] - boxes[:, :2]).T)
        ids = list(tracks)
        d = np.array([[np.hypot(*(tracks[t][0] - c)) for c in centres] for t in ids]).reshape(len(ids), len(people))
        pairs = sorted((d[a, b], a, b) for a in range(len(ids)) for b in range(len(people)))
        used_t, used_d = set(), set()
        for dist, a, b in pairs:
            if a not in used_t and b not in used_d and dist <= 0.5 * max(tracks[ids[a]][1], diag[b], 1):
                used_t.add(a), used_d.add(b)
                people[b].track_id = ids[a]
        for b, person in enumerate(people):
            if b not in used_d:
                person.track_id, next_id = next_id, next_id + 1
            tracks[person.track_id] = (centres[b], diag[b], f)
        tracks = {t: v for t, v in tracks.items() if f - v[2] <= max_age}
        out.append(list(people))
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 1, None), axis=-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def run_bytetrack(frames, images, fps, high: float = 0.5, buffer: int = 30):
    """ByteTrack's association (Zhang et al. 2022) on keypoint boxes, minimal: boxes predicted at
    constant velocity; high-score detections matched first (IoU >= 0.2), then low-score ones to
    the remaining tracks (IoU >= 0.5); new ids for unmatched high-score detections (given at
    birth, like the other trackers here); tracks kept ``buffer`` frames. Score: the mean
    confidence of the detection's keypoints."""
    tracks: dict[int, list] = {}  # id -> [box, velocity, last frame]
    next_id, out = 0, []
    for f, people in enumerate(frames):
        boxes = _boxes(people)
        score = np.array([p.keypoints[p.keypoints[:, 2] > 0, 2].mean() if (p.keypoints[:, 2] > 0).any() else 0
                          for p in people])
        ids = list(tracks)
        pred = np.array([tracks[t][0] + tracks[t][1] * (f - tracks[t][2]) for t in ids]).reshape(-1, 4)
        free_t, matched = list(range(len(ids))), {}
        for stage, (dets, least) in enumerate(((np.flatnonzero(score >= high), 0.2), (np.flatnonzero(score < high), 0.5))):
            if not len(dets) or not free_t:
                continue
            iou = _iou(pred[free_t], boxes[dets])
            r, c = linear_sum_assignment(-iou)
            for a, b in zip(r, c):
                if iou[a, b] >= least:
                    matched[dets[b]] = free_t[a]
            free_t = [t for t in free_t if t not in matched.values()]
        for b, person in enumerate(people):
            if b in matched:
                t = ids[matched[b]]
                box, _, last = tracks[t]
                tracks[t] = [boxes[b], (boxes[b] - box) / max(f - last, 1) * 0.5 + tracks[t][1] * 0.5, f]
                person.track_id = t
            elif score[b] >= high:
                person.track_id, next_id = next_id, next_id + 1
                tracks[person.track_id] = [boxes[b], np.zeros(4), f]
        tracks = {t: v for t, v in tracks.items() if f - v[2] <= buffer}
        out.append([p for p in people if p.track_id >= 0])
    return out


def run_norfair(frames, images, fps):
    """norfair 2.3 with its keypoint-voting distance and its OpenPose demo's settings."""
    from norfair import Detection, Tracker
    from norfair.distances import create_keypoints_voting_distance

    height = images[0].shape[0] if images is not None else 480
    tracker = Tracker(distance_function=create_keypoints_voting_distance(height / 25, 0.01),
                      distance_threshold=0.4, detection_threshold=0.01, hit_counter_max=30,
                      initialization_delay=1, pointwise_hit_counter_max=4)
    out = []
    for people in frames:
        detections = [Detection(p.keypoints[:, :2], scores=np.maximum(p.keypoints[:, 2], 0), data=i)
                      for i, p in enumerate(people)]
        for obj in tracker.update(detections):
            if obj.last_detection in detections and obj.id is not None:
                people[obj.last_detection.data].track_id = int(obj.id)
        out.append(list(people))
    return out


def trackers() -> dict:
    found = {"after": run_after, "after, no frames": run_after_no_frames, "before (7b30442)": run_before,
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
        person_frames += int(care.sum())
    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=["idf1", "mota", "num_switches"], name="x")
    events = acc.mot_events
    pairs = events[events["Type"].isin(["MATCH", "SWITCH"])][["OId", "HId"]].dropna()
    theft = int((pairs.groupby("HId")["OId"].nunique() >= 2).sum())
    return {"idf1": float(summary["idf1"].iloc[0]), "mota": float(summary["mota"].iloc[0]),
            "switches": int(summary["num_switches"].iloc[0]), "theft": theft,
            "unlabelled": unlabelled / max(matched_detections, 1), "person_frames": person_frames}


def evaluate(seq: MotionSequence, detections, images) -> dict[str, dict]:
    results = {}
    for name, run in trackers().items():
        frames = _fresh(detections)
        inputs = [list(people) for people in frames]
        results[name] = identity_metrics(seq, inputs, run(frames, images, seq.fps))
    return results


# --- clips from the bundled photos


def photo_clips(scale: float = 1.0) -> list[MotionSequence]:
    import cv2

    from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, load_coco

    coco = load_coco(SAMPLE_ANNOTATIONS)
    photo = {}
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        photo[image_id] = (cv2.imread(str(SAMPLE_DIR / info["file_name"])),
                           coco.loadAnns(coco.getAnnIds(imgIds=image_id)))
    n = lambda frames: max(int(frames * scale), 10)  # noqa: E731
    clips = [camera_over_photo(*photo[197388], [(0, .3, .5, .6), (.25, .3, .5, .6), (.45, .82, .5, .5),
                                                 (.65, .82, .5, .5), (.85, .3, .5, .6), (1, .3, .5, .6)],
                               n(150), shake=2.0, seed=1, name="pan away and back")]
    shots = [camera_over_photo(*photo[785], [(0, .55, .5, .95), (1, .6, .5, .85)], n(40), shake=1.5, seed=2),
             camera_over_photo(*photo[40083], [(0, .45, .55, .95), (1, .5, .55, .9)], n(40), shake=1.5, seed=3),
             camera_over_photo(*photo[196141], [(0, .5, .5, .95), (1, .45, .5, .9)], n(40), shake=1.5, seed=4),
             camera_over_photo(*photo[785], [(0, .6, .45, .8), (1, .55, .45, .8)], n(30), shake=1.5, seed=5)]
    clips.append(join_shots(shots, black={1: (n(15), 4)}, name="cuts and black frames"))
    cutouts = {c.person_id: c for image_id in (197388, 196141, 785) for c in cut_out_people(*photo[image_id])}
    background = paint_out_people(*photo[40083])
    a, b, c, d = (cutouts[i] for i in (437295, 460541, 442619, 533949))
    clips.append(people_over_background(
        background, [a, b, c, d],
        [[(0, 40, 250), (1, 400, 250)], [(0, 400, 254), (1, 40, 254)],
         [(0, 60, 350), (1, 380, 350)], [(0, 380, 345), (1, 60, 345)]],
        n(120), [170, 175, 200, 190], shake=1.0, seed=6, name="crossing (people over a photo)"))
    clips.append(people_over_background(
        background, [a, b, c],
        [[(0, 120, 300), (.25, 330, 300), (.4, 520, 300), (.62, 520, 300), (.8, 330, 300), (1, 250, 300)],
         [(0, 300, 330), (.3, -90, 330), (.6, -90, 330), (1, 150, 330)],
         [(0, 210, 260), (1, 230, 260)]],
        n(180), [180, 200, 150], shake=1.0, seed=7, name="exit and re-entry (people over a photo)"))
    clips.append(camera_over_photo(*photo[196141], [(0, .5, .5, .95), (.5, .45, .45, .55), (1, .5, .5, .95)],
                                   n(120), shake=6.0, seed=8, name="shake and zoom"))
    return clips


def network_detections(seq: MotionSequence, cache: Path | None, predictor) -> list[list[Person]]:
    key = cache / f"{seq.name.replace(' ', '_').replace('/', '_')}_{len(seq)}.npz" if cache else None
    if key is not None and key.exists():
        data = np.load(key)
        return [[Person(k, float(s)) for k, s in zip(data[f"k{i}"], data[f"s{i}"])] for i in range(len(seq))]
    frames = [predictor.predict(image) for image in seq.images]
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        np.savez(key, **{f"k{i}": np.array([p.keypoints for p in people]).reshape(-1, 18, 3) for i, people in enumerate(frames)},
                 **{f"s{i}": np.array([p.score for p in people]) for i, people in enumerate(frames)})
    return frames


def _table(rows: list[tuple[str, str, dict]]) -> list[str]:
    lines = ["| clip | tracker | person-frames | IDF1 | MOTA | switches | theft | unlabelled |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for clip, name, r in rows:
        lines.append(f"| {clip} | {name} | {r['person_frames']} | {r['idf1']:.3f} | {r['mota']:.3f} | "
                     f"{r['switches']} | {r['theft']} | {100 * r['unlabelled']:.1f} % |")
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
    args = parser.parse_args()
    cache = args.cache if str(args.cache) else None

    import pafpose

    predictor = pafpose.Predictor()
    rows, totals = [], {}
    for seq in photo_clips(0.5 if args.quick else 1.0):
        start = time.perf_counter()
        detections = network_detections(seq, cache, predictor)
        print(f"{seq.name}: {len(seq)} frames, detections in {time.perf_counter() - start:.1f} s", flush=True)
        for name, r in evaluate(seq, detections, seq.images).items():
            rows.append((seq.name, name, r))
            totals.setdefault(name, []).append(r)
    print("\nbundled network on clips made from the 4 bundled photos\n" + "\n".join(_table(rows)))
    print("\nover the clips: IDF1 min-max, total switches, total theft")
    for name, rs in totals.items():
        idf1 = [r["idf1"] for r in rs]
        print(f"  {name}: IDF1 {min(idf1):.3f}-{max(idf1):.3f} (mean {np.mean(idf1):.3f}), "
              f"switches {sum(r['switches'] for r in rs)}, theft {sum(r['theft'] for r in rs)}, "
              f"unlabelled {100 * np.mean([r['unlabelled'] for r in rs]):.1f} %")

    if not args.no_synthetic:
        seeds, frames = ([0], 150) if args.quick else ([0, 1], 300)
        rows = []
        for scenario in SCENARIOS:
            per = {}
            for seed in seeds:
                seq = make_scenario(scenario, frames=frames, seed=seed)
                for name, r in evaluate(seq, detections_from_maps(seq, seed), None).items():
                    per.setdefault(name, []).append(r)
            for name, rs in per.items():
                pf = sum(r["person_frames"] for r in rs)
                merged = {"person_frames": pf, "switches": sum(r["switches"] for r in rs),
                          "theft": sum(r["theft"] for r in rs),
                          **{m: float(np.average([r[m] for r in rs], weights=[r["person_frames"] for r in rs]))
                             for m in ("idf1", "mota", "unlabelled")}}
                rows.append((scenario, name, merged))
        print(f"\nsynthetic walkers, maps decoded (seeds {seeds}, {frames} frames)\n" + "\n".join(_table(rows)))

    mean, median = tracker_speed()
    print(f"\ntracker: {mean:.3f} ms mean, {median:.3f} ms median per frame at 20 people; "
          f"smoother {smoother_speed():.3f} ms per frame at 20 people")
    samples = stream_memory(args.stream, max(args.stream // 10, 1))
    print("stream memory (tracker + smoother, tracemalloc): " +
          ", ".join(f"{f}: {kib:.0f} KiB ({n} tracks)" for f, kib, n in samples))


if __name__ == "__main__":
    main()

"""The trackers pafpose's is compared with in ``benchmarks/tracking.py``, each a function
(frames of people, images or None, fps) -> frames of people shown, on the same detections: a
greedy centroid tracker and a ByteTrack-style two-stage IoU tracker on the keypoints' boxes
(both written here: boxmot itself needs another opencv, pandas < 3 and torchvision), norfair
(keypoint voting, its OpenPose demo's settings) when installed, and ids from the ground truth
(the best any tracker could do with these detections)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["run_greedy", "run_bytetrack", "run_norfair", "run_ground_truth"]


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
    import logging

    from norfair import Detection, Tracker

    logging.getLogger().setLevel(logging.ERROR)  # norfair warns about its scalar distance each run
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


def run_ground_truth(frames, truth, oks_matrix, match_oks: float = 0.5):
    """Each detection gets the id of the person it matches (OKS >= ``match_oks``, one-to-one),
    others none: the identity score ceiling with these detections. ``truth``: (ids, (P, 17, 3)
    keypoints) per frame; ``oks_matrix``: the benchmark's OKS of people against detections."""
    out = []
    for people, (ids, kp) in zip(frames, truth):
        found = np.array([p.to_coco17() for p in people]).reshape(-1, 17, 3)
        oks = oks_matrix(kp, found)
        for p in people:
            p.track_id = -1
        if oks.size:
            for g, d in zip(*linear_sum_assignment(-oks)):
                if oks[g, d] >= match_oks:
                    people[d].track_id = int(ids[g])
        out.append([p for p in people if p.track_id >= 0])
    return out

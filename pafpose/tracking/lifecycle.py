"""A track's life: birth (with its id), confirmation, duplicates merged, loss and end.

- born: an unmatched detection that is not a piece of a person already matched starts a track
  and gets its id at once, from a counter that only grows (ids are never reused).
- tentative until matched in ``confirm_frames`` consecutive frames; a tentative track that misses
  a frame ends (a one-frame false detection keeps its one id, never seen again).
- confirmed; lost when unmatched: matched by position for ``max_lost`` time units, then only by
  re-identification evidence until ``reid_seconds``, then it ends. Fragments (fewer than
  ``revive_keypoints``) keep a track only for ``max_lost`` after its person was last seen whole,
  so decoder pieces and a bystander's limbs do not keep a dead track alive.
- a track only ever seen as a sliver (fewer than ``revive_keypoints`` at once) is not shown
  and ends when it misses a frame; a lost track may take its detection.
- a cut (:meth:`PoseTracker.end_all`) ends every track at once.

Only live tracks are stored, so memory is bounded by the people in view plus those lost for
under ``reid_seconds``, however long the stream.
"""

from __future__ import annotations

import numpy as np

from .similarity import pose_similarity
from .state import CONFIRMED, TENTATIVE, Tracks, areas

__all__ = ["duplicates", "fragments", "newborn", "survivors"]


def duplicates(tracks: Tracks, rows: np.ndarray, seen: np.ndarray, sigmas: np.ndarray, min_shared: int,
               now: float, merge_seconds: float, interval: float) -> np.ndarray:
    """(M,) int: for each of the just matched tracks (rows), the index in ``rows`` of the track it
    duplicates, or -1.

    A decoder may split one person into complementary pieces (an arm here, the rest there) and,
    frame after frame, hand the pieces out differently; each piece then keeps a track alive whose
    remembered keypoints are the whole person's. Two tracks are one person when their remembered
    keypoints agree (OKS >= 0.5) while this frame's detections share almost no keypoint types
    (two people, even crossing, are each seen with their own heads and shoulders); the younger
    track is the duplicate if it is at most ``merge_seconds`` old or moves with the older one (two
    people crossing move apart).
    """
    m = len(rows)
    if m < 2:
        return np.full(m, -1)
    complementary = seen.astype(np.float64) @ seen.T.astype(np.float64) < min_shared
    if not complementary.any():  # the usual frame: every detection has its own keypoints
        return np.full(m, -1)
    keypoints, known = tracks.keypoints[rows], tracks.seen[rows]
    agreement, _ = pose_similarity(keypoints, known, tracks.area[rows], keypoints, known, sigmas, min_shared)
    age = np.lexsort((tracks.ids[rows], tracks.born_time[rows])).argsort()  # 0 = oldest
    young = now - tracks.born_time[rows] <= merge_seconds
    v = tracks.velocity[rows]
    speed = np.hypot(*v.T)
    size = np.sqrt(tracks.area[rows]) / max(interval, 1e-9)
    together = np.hypot(*(v[:, None] - v[None]).transpose(2, 0, 1)) <= np.maximum(
        0.25 * np.maximum(speed[:, None], speed[None]), 0.02 * np.minimum(size[:, None], size[None]))
    unknown = ~tracks.has_velocity[rows]  # just re-found after a loss: may be anyone's twin
    together |= unknown[:, None] | unknown[None]
    same = (agreement >= 0.5) & complementary & (age[:, None] < age[None, :]) & (young[None, :] | together)
    # The oldest of a group survives; chains (c duplicates b duplicates a) all point at a.
    survivor = np.where(same.any(axis=0), np.argmax(same, axis=0), -1)
    for j in np.argsort(age):
        if survivor[j] >= 0 and survivor[survivor[j]] >= 0:
            survivor[j] = survivor[survivor[j]]
    return survivor


def merge_into(tracks: Tracks, keep: int, gone: int, now: float) -> None:
    """Track row ``keep`` takes what the duplicate row ``gone`` saw this frame."""
    saw = tracks.last_time[gone] == now
    tracks.keypoints[keep] = np.where(saw[:, None], tracks.keypoints[gone], tracks.keypoints[keep])
    tracks.last_xy[keep] = np.where(saw[:, None], tracks.last_xy[gone], tracks.last_xy[keep])
    tracks.last_time[keep] = np.where(saw, now, tracks.last_time[keep])
    tracks.seen[keep] |= tracks.seen[gone]


def fragments(predicted: np.ndarray, tracks: Tracks, rows: np.ndarray, matched_seen: np.ndarray,
              xy: np.ndarray, seen: np.ndarray, sigmas: np.ndarray, min_shared: int) -> np.ndarray:
    """(U,) bool: which of U unmatched detections ((U, K, 2) xy, (U, K) seen) are pieces of a
    person whose track (rows, with their detections' (M, K) seen) was matched this frame: they
    share almost no keypoint type with that detection and agree with the track's remembered
    keypoints. A newcomer overlapping a tracked person is seen with keypoint types of their own
    (a head, shoulders) and is not a piece."""
    if not len(rows) or not len(seen):
        return np.zeros(len(seen), bool)
    complementary = seen.astype(np.float64) @ matched_seen.T.astype(np.float64) < min_shared  # (U, M)
    agreement, _ = pose_similarity(predicted[rows], tracks.seen[rows], tracks.area[rows], xy, seen,
                                   sigmas, min(min_shared, 2))
    return (complementary & (agreement.T >= 0.5)).any(axis=1)


def newborn(xy: np.ndarray, seen: np.ndarray, now: float, first_id: int, confirmed: np.ndarray) -> Tracks:
    """Tracks for (M, K, 2) unmatched detections, ids ``first_id``, ``first_id + 1``, ... given at
    birth; tentative, or confirmed where the (M,) bool ``confirmed`` says."""
    m, k = seen.shape
    new = Tracks.empty(k, m)
    new.ids = np.arange(first_id, first_id + m, dtype=np.int64)
    new.state = np.where(confirmed, CONFIRMED, TENTATIVE).astype(np.int8)
    new.keypoints, new.last_xy, new.seen = xy.copy(), xy.copy(), seen.copy()
    new.matched_time[:] = now
    new.born_time[:] = now
    new.whole_time[:] = now
    new.last_time = np.where(seen, now, -np.inf)
    new.area = areas(xy, seen)
    new.hits[:] = 1
    return new


def survivors(tracks: Tracks, matched: np.ndarray, now: float, confirm_frames: int,
              reid_seconds: float) -> np.ndarray:
    """Count this frame's hits and misses, confirm tracks matched often enough, and return the
    (N,) bool of tracks that live on: confirmed ones whose person was last seen (most of them,
    not a fragment) at most ``reid_seconds`` ago, tentative ones only while matched in every
    frame."""
    tracks.misses[~matched] += 1
    tracks.hits[~matched] = 0
    tracks.state[(tracks.state == TENTATIVE) & matched & (tracks.hits >= confirm_frames)] = CONFIRMED
    return np.where(tracks.state == CONFIRMED, now - tracks.whole_time <= reid_seconds, matched)

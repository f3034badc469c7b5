"""What the tracker remembers of each live track, as a few numpy arrays with one row per track,
and how a track moves: its predicted keypoints now, its velocity, and its update on a match.

Times are in the caller's unit (seconds in pafpose); nothing here counts frames.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .similarity import HISTOGRAM_BINS

__all__ = ["Tracks", "TENTATIVE", "CONFIRMED", "areas", "predict", "gate_radius", "move_matched"]

# Track states.
TENTATIVE, CONFIRMED = 0, 1
_RATIOS = 8  # limb_ratios' bones


@dataclass
class Tracks:
    """One row per live track (tentative, confirmed in view, or lost)."""

    ids: np.ndarray  # (N,) int64, given at birth
    state: np.ndarray  # (N,) int8 TENTATIVE / CONFIRMED
    keypoints: np.ndarray  # (N, K, 2) position of each keypoint at ``matched_time``
    seen: np.ndarray  # (N, K) bool: keypoint seen at least once
    matched_time: np.ndarray  # (N,) time of the track's last match
    born_time: np.ndarray  # (N,) time of the track's first detection
    whole_time: np.ndarray  # (N,) last time it was matched to a detection of most of a person
    last_xy: np.ndarray  # (N, K, 2) where each keypoint was last seen, for velocities
    last_time: np.ndarray  # (N, K) when (-inf: never)
    velocity: np.ndarray  # (N, 2) pixels per time unit
    has_velocity: np.ndarray  # (N,) bool
    area: np.ndarray  # (N,) OKS object area s^2, pixels^2
    hits: np.ndarray  # (N,) consecutive matched frames
    misses: np.ndarray  # (N,) consecutive missed frames
    ratios: np.ndarray  # (N, 8) limb ratios (running mean; NaN: never measured)
    looks: np.ndarray  # (N, HISTOGRAM_BINS) clothing colour histograms (running mean; NaN: none)
    sizeable: np.ndarray  # (N,) bool: seen at least once as more than a sliver (shown from then)
    crowded_time: np.ndarray  # (N,) last time matched to a detection overlapping another (-inf: never)

    @classmethod
    def empty(cls, num_keypoints: int, rows: int = 0) -> Tracks:
        k, n = num_keypoints, rows
        return cls(np.full(n, -1, np.int64), np.zeros(n, np.int8), np.zeros((n, k, 2)),
                   np.zeros((n, k), bool), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros((n, k, 2)),
                   np.full((n, k), -np.inf), np.zeros((n, 2)), np.zeros(n, bool), np.zeros(n),
                   np.zeros(n, np.int64), np.zeros(n, np.int64), np.full((n, _RATIOS), np.nan),
                   np.full((n, HISTOGRAM_BINS), np.nan), np.zeros(n, bool), np.full(n, -np.inf))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def size(self) -> np.ndarray:
        """(N,) the person's size in pixels: the square root of the keypoint box's area."""
        return np.sqrt(self.area)

    def select(self, rows: np.ndarray) -> Tracks:
        return Tracks(*(getattr(self, f.name)[rows] for f in fields(self)))

    def append(self, other: Tracks) -> Tracks:
        return Tracks(*(np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                        for f in fields(self)))


def areas(keypoints: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """(N,) area of the box around each person's seen keypoints; (N, K, 2), (N, K) -> (N,).

    The keypoints' box is smaller than the body's (no head top, hands or feet) but scales the
    same way; ``sigma_scale`` absorbs the difference. A side-on or lying person has a thin box:
    at least a third of the longer side is used.
    """
    lo = np.where(seen[..., None], keypoints, np.inf).min(axis=1)
    hi = np.where(seen[..., None], keypoints, -np.inf).max(axis=1)
    size = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
    size = np.maximum(size, size.max(axis=1, keepdims=True) / 3)
    return size.prod(axis=1)


def _median(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """(M, 2) median over axis 1 of (M, K, 2) values whose first ``count`` (M,) per row are
    numbers and the rest NaN (np.nanmedian's masked arrays cost 50x more)."""
    ordered = np.sort(values, axis=1)  # NaN sort last
    row = np.arange(len(values))
    middle = ordered[row, np.minimum(count // 2, values.shape[1] - 1)]
    middle = middle + ordered[row, np.maximum(count - 1, 0) // 2]
    return np.where(count[:, None] > 0, middle / 2, 0.0)


def predict(tracks: Tracks, now: float, coast: float) -> np.ndarray:
    """(N, K, 2) where each track's keypoints are now: moved at its velocity since its last
    match, for at most ``coast`` (a walker who stopped behind a pillar is not sent off-screen).
    Positions are in the scene's coordinates (the camera's own motion taken out), so a person
    standing still while the camera pans away and back is predicted where they stand."""
    elapsed = np.clip(now - tracks.matched_time, 0.0, coast)
    return tracks.keypoints + (tracks.velocity * elapsed[:, None])[:, None, :]


def gate_radius(tracks: Tracks, now: float, base: float, speed: float, coast: float,
                since: np.ndarray | None = None) -> np.ndarray:
    """(N,) how far (pixels) from its prediction a track's person can physically be now: ``base``
    person sizes, plus ``speed`` person sizes per time unit unseen, plus the track's own speed
    over the time it no longer coasts (the person may have walked on). Unseen since ``since``
    (N,), default: the track's last match."""
    unseen = np.maximum(now - (tracks.matched_time if since is None else since), 0.0)
    own = np.where(tracks.has_velocity, np.hypot(*tracks.velocity.T), 0.0)
    return tracks.size * (base + speed * unseen) + own * np.maximum(unseen - coast, 0.0)


def move_matched(tracks: Tracks, rows: np.ndarray, xy: np.ndarray, seen: np.ndarray, now: float,
                 coast: float, smoothing: float, min_shared: int, whole: np.ndarray) -> None:
    """Move matched tracks (rows) to their detections' (M, K, 2) keypoints, in place; where
    the (M,) bool ``whole`` says a detection is most of its person, renew ``whole_time``."""
    if not len(rows):
        return
    old_xy, old_seen, old_time = tracks.keypoints[rows], tracks.seen[rows], tracks.matched_time[rows]
    # Velocity: the median over the keypoints seen now and at most ``coast`` ago, each over its
    # own interval (the median ignores a keypoint the decoder swapped with another person's),
    # measured only on enough keypoints (two or three of a hidden person's are unreliable).
    dt = now - old_time
    since = now - tracks.last_time[rows]
    both = seen & (since > 0) & (since <= coast)
    per_kp = np.where(both[..., None], (xy - tracks.last_xy[rows]) / np.where(both, since, 1.0)[..., None], np.nan)
    has = both.sum(axis=1) >= max(min_shared, both.shape[1] // 3)
    measured = _median(per_kp, both.sum(axis=1))
    # A track lost for longer than it coasts has a stale velocity (the person may have turned):
    # the first new measurement replaces it.
    prior = (tracks.has_velocity[rows] & (dt <= coast))[:, None]
    blended = np.where(prior, smoothing * measured + (1 - smoothing) * tracks.velocity[rows], measured)
    tracks.velocity[rows] = np.where(has[:, None], blended, np.where(prior, tracks.velocity[rows], 0.0))
    tracks.has_velocity[rows] = has | prior[:, 0]

    # Keypoints not seen now move with the person (a hidden hip walks on with its body), as far
    # as a lost track coasts.
    moved = old_xy + (tracks.velocity[rows] * np.minimum(dt, coast)[:, None])[:, None]
    tracks.keypoints[rows] = np.where(seen[..., None], xy, moved)
    tracks.matched_time[rows] = now
    tracks.last_xy[rows] = np.where(seen[..., None], xy, tracks.last_xy[rows])
    tracks.last_time[rows] = np.where(seen, now, tracks.last_time[rows])
    tracks.seen[rows] = old_seen | seen
    # Only a mostly complete person measures its size: a fragment's box (a head, a leg) is far
    # smaller than the person and would make the track intolerant.
    enough = seen.sum(axis=1) >= max(min_shared, seen.shape[1] // 2)
    tracks.area[rows] = np.where(enough, areas(xy, seen), tracks.area[rows])
    tracks.whole_time[rows] = np.where(whole, now, tracks.whole_time[rows])
    tracks.hits[rows] += 1
    tracks.misses[rows] = 0


def blend_evidence(tracks: Tracks, rows: np.ndarray, ratios: np.ndarray, looks: np.ndarray,
                   weight: float = 0.2) -> None:
    """Fold (M, 8) limb ratios and (M, H) clothing histograms of matched tracks' detections into
    their running means (NaN entries: not measured this frame, the memory stays)."""
    for name, new in (("ratios", ratios), ("looks", looks)):
        old = getattr(tracks, name)[rows]
        mixed = np.where(np.isnan(old), new, (1 - weight) * old + weight * new)
        getattr(tracks, name)[rows] = np.where(np.isnan(new), old, mixed)

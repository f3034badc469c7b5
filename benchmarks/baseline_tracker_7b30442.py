"""The tracker before issue 26 (pafpose/tracking/tracker.py at 7b30442), vendored so
benchmarks/tracking.py can compare before and after on the same detections.

Person ids over a video: pose-similarity association with a small track life cycle.

Each frame, every live track predicts where its keypoints are now (its last seen keypoints moved
by its velocity, constant-velocity motion) and is compared with every detected person by
object keypoint similarity (OKS, COCO's: per-keypoint Gaussians whose width grows with the
person's size). Detections and tracks are paired by a minimum-cost assignment (Hungarian
algorithm, ``scipy.optimize.linear_sum_assignment``) on OKS over all the keypoints either has
(so the whole of a person beats a fragment of them), and a pair whose shared keypoints agree
less than ``min_similarity`` (OKS over the shared keypoints) is refused: a person far from every
prediction starts a new track instead of taking someone's id.

Life cycle (all counted in frames, i.e. calls to :meth:`PoseTracker.update`):

- tentative: a new, unmatched detection. Its person is returned with ``track_id`` -1 until the
  track has been matched in ``confirm_frames`` consecutive frames; a tentative track that misses
  a frame is dropped (a one-frame false detection never gets an id). People in the very first
  frame are confirmed at once (a video starts with its people already there).
- confirmed: has an id, taken from a counter that only grows, so ids are never reused.
- lost: a confirmed track unmatched in the latest frame (hidden, out of the detector's sight, or
  a whole blank frame). It keeps predicting, its similarity widening with every missed frame
  (``lost_widening``) and its motion stopping after ``coast_frames``; matched again, it is
  confirmed with its old id.
- removed: lost for more than ``max_lost_frames``. Only live tracks are stored, so memory is
  bounded by the people in view plus those lost recently, however long the stream.

The state is a handful of numpy arrays with one row per live track, so one update costs a few
vectorised operations plus the assignment: well under a millisecond for 20 people.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from pafpose.codec.people import Person
from pafpose.codec.skeleton import keypoint_sigmas, skeleton_of

__all__ = ["TrackerConfig", "PoseTracker", "pose_similarity"]


@dataclass(frozen=True)
class TrackerConfig:
    """How :class:`PoseTracker` associates and keeps tracks.

    Attributes:
        min_similarity: least OKS, over the keypoints both have, between a track's prediction
            and a detection for them to be paired (the gate).
        sigma_scale: multiplies COCO's per-keypoint OKS sigmas: COCO's measure annotator
            disagreement, which is tighter than the frame-to-frame error of a prediction.
        min_shared: fewest keypoints a track and a detection must both have for their
            similarity to count (OKS over one or two keypoints is noise).
        confirm_frames: consecutive matched frames before a track gets an id.
        max_lost_frames: frames a confirmed track survives unmatched before it is removed.
        coast_frames: frames a lost track keeps moving at its last velocity; after that its
            prediction stays put (a walker who stopped behind a pillar is not sent off-screen).
        lost_widening: each missed frame widens the track's OKS Gaussians by this fraction of
            their width (where a hidden person is becomes less certain with time).
        velocity_smoothing: weight of the newest velocity measurement in the track's velocity
            (exponential smoothing; 1 = the last measurement only).
        merge_frames: a track at most this many frames old that duplicates an older one (see
            ``PoseTracker._duplicates``) is merged into it; older tracks only when they move
            together, so two people crossing, whose remembered poses briefly coincide, stay two.
        min_confidence: keypoints below this confidence are treated as missing.
    """

    min_similarity: float = 0.1
    sigma_scale: float = 2.0
    min_shared: int = 3
    confirm_frames: int = 2
    max_lost_frames: int = 60
    coast_frames: int = 10
    lost_widening: float = 0.25
    velocity_smoothing: float = 0.5
    merge_frames: int = 10
    min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_similarity < 1:
            raise ValueError(f"min_similarity must lie in [0, 1), got {self.min_similarity}")
        if self.confirm_frames < 1 or self.max_lost_frames < 0 or self.coast_frames < 0:
            raise ValueError("confirm_frames must be >= 1, max_lost_frames and coast_frames >= 0")
        if not 0 < self.velocity_smoothing <= 1 or self.sigma_scale <= 0 or self.min_shared < 1:
            raise ValueError("need 0 < velocity_smoothing <= 1, sigma_scale > 0, min_shared >= 1")


def pose_similarity(tracks: np.ndarray, tracks_seen: np.ndarray, scale2: np.ndarray,
                    detections: np.ndarray, detections_seen: np.ndarray, sigmas: np.ndarray,
                    min_shared: int) -> tuple[np.ndarray, np.ndarray]:
    """OKS of every track against every detection, two ways.

    Args:
        tracks: (T, K, 2) predicted keypoints; tracks_seen: (T, K) bool, which are known.
        scale2: (T,) squared scale s^2 of each track's OKS (object area times any widening).
        detections: (D, K, 2) keypoints; detections_seen: (D, K) bool, which were found.
        sigmas: (K,) per-keypoint OKS sigmas (COCO's kappa).
        min_shared: pairs with fewer keypoints known in both get 0 in both.

    Returns:
        (T, D) float ``agreement`` and ``coverage`` in [0, 1]: the keypoint Gaussians summed
        over the keypoints known in both, divided by the number known in both (how well the
        shared keypoints agree: a partly hidden person agrees as well as a whole one), and
        by the number known in either (also how much of the person is there: a fragment of a
        person, a decoder's split, scores below the whole of them).
    """
    # Unknown keypoints are moved impossibly far away (tracks' and detections' in opposite
    # directions), so their Gaussians vanish without a (T, D, K) mask.
    far = 1e7
    tx, ty = np.where(tracks_seen, tracks[..., 0], far), np.where(tracks_seen, tracks[..., 1], far)
    dx = np.where(detections_seen, detections[..., 0], -far)
    dy = np.where(detections_seen, detections[..., 1], -far)
    d2 = np.square(tx[:, None] - dx[None]) + np.square(ty[:, None] - dy[None])  # (T, D, K)
    rate = 0.5 / (scale2[:, None] * np.square(sigmas))  # (T, K)
    total = np.exp(-d2 * rate[:, None]).sum(axis=-1)
    a, b = tracks_seen.astype(np.float64), detections_seen.astype(np.float64)
    shared = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None] - shared
    enough = shared >= min_shared
    return (np.where(enough, total / np.maximum(shared, 1), 0.0),
            np.where(enough, total / np.maximum(union, 1), 0.0))


# Track states.
_TENTATIVE, _CONFIRMED = 0, 1


@dataclass
class _Tracks:
    """One row per live track."""

    ids: np.ndarray  # (N,) int64, -1 while tentative
    state: np.ndarray  # (N,) int8 _TENTATIVE / _CONFIRMED
    keypoints: np.ndarray  # (N, K, 2) position of each keypoint at ``matched_time``
    seen: np.ndarray  # (N, K) bool: keypoint seen at least once
    matched_time: np.ndarray  # (N,) time of the track's last match
    last_xy: np.ndarray  # (N, K, 2) where each keypoint was last seen, for velocities
    last_time: np.ndarray  # (N, K) when (-inf: never)
    velocity: np.ndarray  # (N, 2) pixels per time unit
    has_velocity: np.ndarray  # (N,) bool
    area: np.ndarray  # (N,) OKS object area s^2, pixels^2
    born: np.ndarray  # (N,) frame count at the track's birth
    hits: np.ndarray  # (N,) consecutive matched frames
    misses: np.ndarray  # (N,) consecutive missed frames

    @classmethod
    def empty(cls, num_keypoints: int) -> _Tracks:
        k = num_keypoints
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros((0, k, 2)),
                   np.zeros((0, k), bool), np.zeros(0), np.zeros((0, k, 2)), np.zeros((0, k)),
                   np.zeros((0, 2)), np.zeros(0, bool),
                   np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, rows: np.ndarray) -> _Tracks:
        return _Tracks(*(getattr(self, f.name)[rows] for f in fields(self)))

    def append(self, other: _Tracks) -> _Tracks:
        return _Tracks(*(np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                         for f in fields(self)))


def _median(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """(M, 2) median over axis 1 of (M, K, 2) values whose first ``count`` (M,) per row are
    numbers and the rest NaN (np.nanmedian's masked arrays cost 50x more)."""
    ordered = np.sort(values, axis=1)  # NaN sort last
    row = np.arange(len(values))
    middle = ordered[row, np.minimum(count // 2, values.shape[1] - 1)]
    middle = middle + ordered[row, np.maximum(count - 1, 0) // 2]
    return np.where(count[:, None] > 0, middle / 2, 0.0)


def _areas(keypoints: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """(N,) area of the box around each person's seen keypoints; (N, K, 2), (N, K) -> (N,).

    The keypoints' box is smaller than the body's (no head top, hands or feet) but scales the
    same way; ``sigma_scale`` absorbs the difference.
    """
    inf = np.where(seen[..., None], keypoints, np.inf)
    lo = inf.min(axis=1)
    hi = np.where(seen[..., None], keypoints, -np.inf).max(axis=1)
    size = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
    # A side-on or lying person has a thin box: use at least a third of the longer side.
    size = np.maximum(size, size.max(axis=1, keepdims=True) / 3)
    return size.prod(axis=1)


class PoseTracker:
    """Gives people a stable ``track_id`` across the frames of one video or stream.

    Args:
        config: association and life-cycle settings.

    Use one tracker per video, call :meth:`update` once per frame in order (with an empty list
    for a frame without people), and read ``person.track_id``.
    """

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self._tracks: _Tracks | None = None  # created at the first person (K is known then)
        self._sigmas: np.ndarray | None = None
        self._next_id = 0
        self._frames = 0
        self._last_time: float | None = None
        self._interval = 1.0  # typical time between frames, to count coasting in frames

    @property
    def num_tracks(self) -> int:
        """Live tracks (tentative, confirmed and lost): what the tracker holds in memory."""
        return 0 if self._tracks is None else len(self._tracks)

    @property
    def next_id(self) -> int:
        """The id the next confirmed track will get (= the number of ids handed out)."""
        return self._next_id

    def update(self, people: Sequence[Person], time: float | None = None) -> list[Person]:
        """Associate one frame's people with the tracks and set their ``track_id``.

        Args:
            people: the frame's detections ((K, 3) keypoints, the same K in every frame).
            time: the frame's timestamp (seconds, or any increasing unit); default: the frame
                count. Velocities are per time unit, so frame-rate changes and dropped frames
                are predicted correctly.

        Returns:
            The same Person objects, in the same order, with ``track_id`` set in place: the
            track's id, or -1 for a person whose track is still tentative and for a duplicate
            (an unmatched detection resembling a track another detection took: a decoder's
            split of one person into two, which must not become a second person).
        """
        cfg = self.config
        now = float(self._frames if time is None else time)
        if self._last_time is not None and now > self._last_time:
            step = now - self._last_time
            self._interval = step if self._frames == 1 else 0.9 * self._interval + 0.1 * step
        first_people = self._tracks is None  # a video starts with its people already there
        self._frames += 1
        self._last_time = now
        if people and self._tracks is None:
            k = people[0].keypoints.shape[0]
            self._tracks = _Tracks.empty(k)
            self._sigmas = keypoint_sigmas(skeleton_of(people[0].keypoints)) * cfg.sigma_scale
        if self._tracks is None:
            return list(people)
        tracks = self._tracks

        det = np.stack([p.keypoints for p in people]) if people else np.zeros((0, *tracks.keypoints.shape[1:2], 3))
        det_xy = det[..., :2].astype(np.float64)
        det_seen = det[..., 2] > cfg.min_confidence

        # Predict: keypoints move at the track's velocity since the track's last match, for at
        # most coast_frames frames.
        elapsed = np.minimum(now - tracks.matched_time, cfg.coast_frames * self._interval)
        velocity = np.where(tracks.has_velocity[:, None], tracks.velocity, 0.0)
        predicted = tracks.keypoints + (velocity * elapsed[:, None])[:, None, :]
        widen = 1.0 + cfg.lost_widening * tracks.misses
        agreement, coverage = pose_similarity(predicted, tracks.seen, tracks.area * np.square(widen),
                                              det_xy, det_seen, self._sigmas, cfg.min_shared)
        # Pairs are chosen by coverage (the whole person beats a fragment of them) and gated by
        # agreement (a partly hidden person still passes).
        gate = agreement >= max(cfg.min_similarity, 1e-12)
        rows, cols = linear_sum_assignment(np.where(gate, -coverage, 1.0)) if gate.size else ((), ())
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        keep = gate[rows, cols]
        rows, cols = rows[keep], cols[keep]

        self._update_matched(tracks, rows, det_xy[cols], det_seen[cols], now)
        duplicate = self._duplicates(tracks, rows, det_seen[cols])
        for j, i in enumerate(duplicate.tolist()):
            if i >= 0:  # the surviving track takes what the duplicate saw, and the bigger piece
                a, b = rows[i], rows[j]
                saw = tracks.last_time[b] == now
                tracks.keypoints[a] = np.where(saw[:, None], tracks.keypoints[b], tracks.keypoints[a])
                tracks.last_xy[a] = np.where(saw[:, None], tracks.last_xy[b], tracks.last_xy[a])
                tracks.last_time[a] = np.where(saw, now, tracks.last_time[a])
                tracks.seen[a] |= tracks.seen[b]
                if det_seen[cols[j]].sum() > det_seen[cols[i]].sum():
                    cols[i] = cols[j]
        dropped = rows[duplicate >= 0]
        rows, cols = rows[duplicate < 0], cols[duplicate < 0]
        matched = np.zeros(len(tracks), bool)
        matched[rows] = True
        tracks.misses[~matched] += 1
        tracks.hits[~matched] = 0
        promote = (tracks.state == _TENTATIVE) & matched & (tracks.hits >= cfg.confirm_frames)
        alive = np.where(tracks.state == _CONFIRMED, tracks.misses <= cfg.max_lost_frames,
                         tracks.misses == 0)
        alive[dropped] = False

        # An unmatched detection that resembles a track someone else took is a duplicate or a
        # fragment of that person (a decoder's split), not a new person: it starts no track.
        unmatched = ~gate.any(axis=0)
        unmatched[cols] = False
        new = np.flatnonzero(unmatched)
        # The first people of a video are confirmed at once, unless they are fragments (less
        # than half a skeleton: a decoder's split pieces would otherwise take ids).
        whole = det_seen[new].sum(axis=1) >= det_seen.shape[1] // 2
        newborn = self._new_tracks(det_xy[new], det_seen[new], now,
                                   confirmed=(first_people & whole) | (cfg.confirm_frames == 1))
        self._confirm(tracks, promote)

        for person in people:
            person.track_id = -1
        for row, col in zip(rows.tolist(), cols.tolist()):
            people[col].track_id = int(tracks.ids[row])
        for i, col in enumerate(new.tolist()):
            people[col].track_id = int(newborn.ids[i])
        self._tracks = tracks.select(alive).append(newborn)
        return list(people)

    def _update_matched(self, tracks: _Tracks, rows: np.ndarray, xy: np.ndarray, seen: np.ndarray,
                        now: float) -> None:
        """Move matched tracks (rows) to their detections' (M, K, 2) keypoints, in place."""
        cfg = self.config
        if not len(rows):
            return
        old_xy, old_seen, old_time = tracks.keypoints[rows], tracks.seen[rows], tracks.matched_time[rows]
        # Velocity: the median over the keypoints seen now and at most coast_frames ago, each
        # over its own interval (the median ignores a keypoint the decoder swapped with another
        # person's), measured only on enough keypoints (two or three of a hidden person's are
        # unreliable).
        dt = now - old_time
        since = now - tracks.last_time[rows]
        both = seen & (since > 0) & (since <= cfg.coast_frames * self._interval)
        per_kp = np.where(both[..., None], (xy - tracks.last_xy[rows]) / np.where(both, since, 1.0)[..., None], np.nan)
        has = both.sum(axis=1) >= max(cfg.min_shared, both.shape[1] // 3)
        measured = _median(per_kp, both.sum(axis=1))
        # A track lost for longer than it coasts has a stale velocity (the person may have
        # turned): the first new measurement replaces it.
        prior = (tracks.has_velocity[rows] & (dt <= cfg.coast_frames * self._interval))[:, None]
        a = cfg.velocity_smoothing
        blended = np.where(prior, a * measured + (1 - a) * tracks.velocity[rows], measured)
        tracks.velocity[rows] = np.where(has[:, None], blended, np.where(prior, tracks.velocity[rows], 0.0))
        tracks.has_velocity[rows] = has | prior[:, 0]

        # Keypoints not seen now move with the person (a hidden hip walks on with its body), as
        # far as a lost track coasts.
        moved = old_xy + (tracks.velocity[rows] * np.minimum(dt, cfg.coast_frames * self._interval)[:, None])[:, None]
        tracks.keypoints[rows] = np.where(seen[..., None], xy, moved)
        tracks.matched_time[rows] = now
        tracks.last_xy[rows] = np.where(seen[..., None], xy, tracks.last_xy[rows])
        tracks.last_time[rows] = np.where(seen, now, tracks.last_time[rows])
        tracks.seen[rows] = old_seen | seen
        # Only a mostly complete person measures its size: a fragment's box (a head, a leg) is
        # far smaller than the person and would make the track intolerant.
        enough = seen.sum(axis=1) >= max(cfg.min_shared, seen.shape[1] // 2)
        tracks.area[rows] = np.where(enough, _areas(xy, seen), tracks.area[rows])
        tracks.hits[rows] += 1
        tracks.misses[rows] = 0

    def _duplicates(self, tracks: _Tracks, rows: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """(M,) int: for each of the just matched tracks (rows), the index in ``rows`` of the
        track it duplicates, or -1.

        A decoder may split one person into complementary pieces (an arm here, the rest
        there) and, frame after frame, hand the pieces out differently; each piece then keeps a
        track alive whose remembered keypoints are the whole person's. Two tracks are one
        person when their remembered keypoints agree (OKS >= 0.5) while this frame's
        detections share almost no keypoint types (two people, even crossing, are each seen
        with their own heads and shoulders); the younger track (a larger id; tentative ones are
        youngest) is the duplicate if it is at most ``merge_frames`` old or moves with the
        older one (two people crossing move apart).
        """
        cfg = self.config
        m, k = seen.shape
        if m < 2:
            return np.full(m, -1)
        complementary = seen.astype(np.float64) @ seen.T.astype(np.float64) < cfg.min_shared
        if not complementary.any():  # the usual frame: every detection has its own keypoints
            return np.full(m, -1)
        keypoints, known = tracks.keypoints[rows], tracks.seen[rows]
        agreement, _ = pose_similarity(keypoints, known, tracks.area[rows], keypoints, known,
                                       self._sigmas, cfg.min_shared)
        ids = tracks.ids[rows]
        age = np.where(ids >= 0, ids, np.iinfo(np.int64).max // 2 + rows)  # smaller = older
        young = self._frames - tracks.born[rows] <= cfg.merge_frames
        # Older duplicates (a person re-found by their old track while a new one follows them)
        # move with their twin; two people crossing move apart.
        v = tracks.velocity[rows]
        speed = np.hypot(*v.T)
        size = np.sqrt(tracks.area[rows]) / self._interval
        together = np.hypot(*(v[:, None] - v[None]).transpose(2, 0, 1)) <= np.maximum(
            0.25 * np.maximum(speed[:, None], speed[None]), 0.02 * np.minimum(size[:, None], size[None]))
        unknown = ~tracks.has_velocity[rows]  # just re-found after a long loss: may be anyone's twin
        together |= unknown[:, None] | unknown[None]
        same = (agreement >= 0.5) & complementary & (age[:, None] < age[None, :]) & (young[None, :] | together)
        # The oldest of a group survives; chains (c duplicates b duplicates a) all point at a.
        survivor = np.where(same.any(axis=0), np.argmax(same, axis=0), -1)
        for j in np.argsort(age):
            if survivor[j] >= 0 and survivor[survivor[j]] >= 0:
                survivor[j] = survivor[survivor[j]]
        return survivor

    def _new_tracks(self, xy: np.ndarray, seen: np.ndarray, now: float, confirmed: np.ndarray) -> _Tracks:
        """Tracks for (M, K, 2) unmatched detections: tentative, or where the (M,) bool
        ``confirmed`` says, confirmed with new ids."""
        m, k = seen.shape
        new = _Tracks.empty(k)
        new.ids = np.full(m, -1, np.int64)
        new.state = np.full(m, _TENTATIVE, np.int8)
        new.keypoints = xy.copy()
        new.seen = seen.copy()
        new.matched_time = np.full(m, now)
        new.last_xy = xy.copy()
        new.last_time = np.where(seen, now, -np.inf)
        new.velocity = np.zeros((m, 2))
        new.has_velocity = np.zeros(m, bool)
        new.area = _areas(xy, seen)
        new.born = np.full(m, self._frames, np.int64)
        new.hits = np.ones(m, np.int64)
        new.misses = np.zeros(m, np.int64)
        self._confirm(new, np.broadcast_to(confirmed, (m,)))
        return new

    def _confirm(self, tracks: _Tracks, rows: np.ndarray) -> None:
        """Give the tracks selected by the (N,) bool ``rows`` the next ids, in row order."""
        count = int(rows.sum())
        tracks.ids[rows] = np.arange(self._next_id, self._next_id + count)
        tracks.state[rows] = _CONFIRMED
        self._next_id += count

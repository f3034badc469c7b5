"""Person ids over a video: :class:`PoseTracker` and its settings, :class:`TrackerConfig`.

Positions are in the scene's coordinates: the camera's own motion (a pan, shake), measured from
the frames when given, is taken out. Each frame, every track predicts where its keypoints are
now (constant velocity, for at most ``coast`` time units) and is compared with every detected
person (``association``), inside a motion gate: confirmed tracks seen recently first, by
keypoint similarity (one kept alive only by pieces takes a whole person back only if their
clothing does not disagree), then tentative ones; then tracks lost for up to ``max_lost`` by position,
only where nothing else could be meant and no evidence disagrees; then tracks lost for up to
``reid_seconds`` by looks or build. Unmatched detections that are not pieces of a matched
person start tracks with new ids (``lifecycle``); a new track whose looks, once clear, agree with
a track lost before it was born takes that track's id from then on (``late_reid``); two
tracks that were in a crowd exchange identities when both people's looks, clear again, say so
(``untangle``). A detection overlapping another is matched only where it agrees well (it may
mix two people). What a track remembers is in ``state``; a
frame's detections and their evidence in ``detections``; how alike two people are, in
``similarity``.

The rule throughout: a new id is better than a wrong one. An id is never handed to a second
person by a guess between two candidates, never traded away from a strong match, and never
reused."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..codec.people import Person
from ..codec.skeleton import keypoint_sigmas, skeleton_of
from ..errors import UserError
from . import lifecycle
from .association import ambiguous, assign, recover, reidentify, untangle
from .cuts import CameraShift
from .detections import Detections
from .similarity import (
    histogram_agreement,
    keypoint_distance,
    pose_similarity,
    ratio_agreement,
)
from .state import (
    CONFIRMED,
    TENTATIVE,
    Tracks,
    areas,
    blend_evidence,
    gate_radius,
    move_matched,
    predict,
)

__all__ = ["TrackerConfig", "PoseTracker", "pose_similarity"]

#: Frame rate assumed when :meth:`PoseTracker.update` is given no time.
DEFAULT_FPS = 30.0


@dataclass(frozen=True)
class TrackerConfig:
    """How :class:`PoseTracker` associates and keeps tracks. Times are in the unit of the
    ``time`` given to :meth:`PoseTracker.update` (seconds in pafpose).

    Attributes:
        min_similarity: least OKS over the keypoints both have (prediction vs detection) for a
            pair to count: its true similarity, never widened by time unseen.
        strong_similarity: a pair at least this similar that is the best of both its track and
            its detection is always kept (never traded for two weaker pairs).
        sigma_scale: multiplies COCO's per-keypoint OKS sigmas (COCO's measure annotator
            disagreement, tighter than the frame-to-frame error of a prediction).
        min_shared: fewest keypoints a track and a detection must both have to be compared.
        confirm_frames: consecutive matched frames before a track is confirmed (it has its id
            from birth; a tentative track that misses a frame ends).
        show_tentative: return the people of tentative tracks (with their id); False withholds
            them until their track is confirmed (a one-frame false positive is never shown).
        live_seconds: a track unseen for at most this long is matched before lost tracks.
        max_lost: how long a lost track can be matched by position near its prediction.
        reid_seconds: how long a lost track can be re-identified by looks or build; then it ends.
        late_reid: for this long after its birth, a new track may still turn out to be a lost
            track's person (their looks were unclear at first: half in view, turning): when its
            detection's looks agree with a track lost before it was born as :func:`reidentify`
            demands, it takes that track's id from then on (0: never).
        coast: how long a lost track keeps moving at its last velocity.
        gate_base, gate_speed: the motion gate: a detection may be at most ``gate_base +
            gate_speed * time unseen`` person sizes (plus the track's own speed once it no longer
            coasts) from the track's prediction.
        revive_keypoints: fewest keypoints of a detection that can take a lost track (so
            fragments and a bystander's limbs do not keep dead tracks alive); None: a third of
            the skeleton, at least ``min_shared``.
        looks_match: least torso-histogram agreement (Bhattacharyya) to re-identify someone;
            also, where both are known, to match a lost track by position.
        ratio_tolerance: largest mean difference of log limb ratios to re-identify someone
            without a frame to see their looks.
        velocity_smoothing: weight of the newest velocity measurement (1: the last one only).
        merge_seconds: a duplicate track at most this old is merged into the older one (older
            ones only when they move together).
        min_confidence: keypoints at or below this confidence (or not finite) are missing.
        min_shown: fewest keypoints of a detection shown as a person (fewer: a decoder's stray
            piece, or too little of someone to draw; it keeps its track and id, unshown).
        crowded_similarity: least agreement for a detection overlapping another (crowded: it may
            mix two people) to be matched to a track; a live confirmed track refusing one this way
            coasts, and the detection waits (no new id while that track is unmatched: it is
            neither shown nor given an id that frame).
        untangle_seconds, untangle_margin: two tracks whose people were in a crowd within
            ``untangle_seconds`` exchange identities when, each seen clearly again, their looks
            agree with the other's memory (``looks_match``) better than with their own by
            ``untangle_margin`` (0 seconds: never).
    """

    min_similarity: float = 0.1
    strong_similarity: float = 0.5
    sigma_scale: float = 2.0
    min_shared: int = 3
    confirm_frames: int = 2
    show_tentative: bool = True
    live_seconds: float = 0.25
    max_lost: float = 2.0
    reid_seconds: float = 5.0
    late_reid: float = 0.5
    coast: float = 1 / 3
    gate_base: float = 0.5
    gate_speed: float = 2.0
    revive_keypoints: int | None = None
    looks_match: float = 0.8
    ratio_tolerance: float = 0.1
    velocity_smoothing: float = 0.5
    merge_seconds: float = 1 / 3
    min_confidence: float = 0.0
    min_shown: int = 4
    crowded_similarity: float = 0.5
    untangle_seconds: float = 1.0
    untangle_margin: float = 0.15

    def __post_init__(self) -> None:
        if not 0 <= self.min_similarity < 1:
            raise ValueError(f"min_similarity must lie in [0, 1), got {self.min_similarity}")
        if self.confirm_frames < 1 or min(self.max_lost, self.coast, self.live_seconds) < 0:
            raise ValueError("confirm_frames must be >= 1; max_lost, coast, live_seconds >= 0")
        if self.reid_seconds < self.max_lost:
            raise ValueError(f"reid_seconds ({self.reid_seconds}) must be >= max_lost ({self.max_lost})")
        if not 0 < self.velocity_smoothing <= 1 or self.sigma_scale <= 0 or self.min_shared < 1:
            raise ValueError("need 0 < velocity_smoothing <= 1, sigma_scale > 0, min_shared >= 1")


class PoseTracker:
    """Gives people a stable ``track_id`` across the frames of one video or stream.

    Use one tracker per video, call :meth:`update` once per frame in order (with an empty list
    for a frame without people), and read ``person.track_id``; call :meth:`end_all` at a shot
    change. Every returned person has an id (>= 0).
    """

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self._tracks: Tracks | None = None  # created at the first person (K is known then)
        self._sigmas: np.ndarray | None = None
        self._skeleton = None
        self._next_id = 0
        self._frames = 0
        self._last_time: float | None = None
        self._interval = 1 / DEFAULT_FPS  # typical time between frames
        self._shift = CameraShift()
        self._camera = np.zeros(2)  # the camera's total shift (pixels) since the first frame

    @property
    def num_tracks(self) -> int:
        """Live tracks (tentative, in view and lost): what the tracker holds in memory."""
        return 0 if self._tracks is None else len(self._tracks)

    @property
    def next_id(self) -> int:
        """The id the next new track will get (= the number of ids handed out)."""
        return self._next_id

    def end_all(self) -> None:
        """End every track (a cut: whoever is seen next is someone new). Ids are never reused."""
        if self._tracks is not None:
            self._tracks = self._tracks.select(np.zeros(len(self._tracks), bool))
        self._shift = CameraShift()

    def update(self, people: Sequence[Person], time: float | None = None,
               image: np.ndarray | None = None) -> list[Person]:
        """Associate one frame's people with the tracks and set their ``track_id``.

        Args:
            people: the frame's detections ((K, 3) keypoints, the same K in every frame);
                keypoints that are NaN or infinite count as missing.
            time: the frame's timestamp (seconds); default: the frame count at 30 fps. It must
                be a finite number (:class:`pafpose.errors.UserError` otherwise).
            image: the frame (BGR uint8), optional: clothing colours then help re-identify people.

        Returns:
            The people to show, in input order, each with its ``track_id`` set in place. Left
            out: a piece of a person already matched (a decoder's split; ``track_id`` -1),
            people with fewer than ``min_shown`` keypoints and tracks only ever seen as a sliver
            (their ``track_id`` set, not shown), and, with ``show_tentative=False``, people of
            unconfirmed tracks.
        """
        now = self._clock(time)
        if self._tracks is None:
            if not people:
                return []
            self._start(people[0])
        tracks, cfg = self._tracks, self.config
        if image is not None:
            self._camera = self._camera + self._shift(image)
        frame = Detections(people, tracks.keypoints.shape[1], cfg.min_confidence, image, self._skeleton,
                           self._camera, self._revive(tracks.keypoints.shape[1]))
        predicted = predict(tracks, now, cfg.coast)

        rows, cols, mixed = self._associate(tracks, predicted, frame, now)
        # A mixed detection a live track refused waits for it: no new track while that one coasts.
        waiting = (mixed & self._free(len(tracks), rows)[:, None]).any(axis=0)
        whole = self._whole(tracks, frame)[rows, cols]
        move_matched(tracks, rows, frame.xy[cols], frame.seen[cols], now, cfg.coast,
                     cfg.velocity_smoothing, cfg.min_shared, whole)
        tracks.sizeable[rows] |= frame.sizeable[cols]
        tracks.crowded_time[rows[frame.crowded[cols]]] = now
        self._untangle(tracks, rows, cols, frame, now)
        blend_evidence(tracks, rows, frame.ratios[cols], frame.looks[cols])
        rows, cols, merged = self._merge_duplicates(tracks, rows, cols, frame, now)
        merged = np.concatenate([merged, self._late_reidentify(tracks, rows, cols, frame, now)])

        matched = np.zeros(len(tracks), bool)
        matched[rows] = True
        alive = lifecycle.survivors(tracks, matched, now, cfg.confirm_frames, cfg.reid_seconds)
        alive[merged] = False
        alive &= matched | tracks.sizeable  # a track never shown ends when it loses its person
        born, new = self._births(tracks, predicted, rows, cols, frame, now, waiting, first=not len(tracks))
        self._tracks = tracks.select(alive).append(born)
        return self._label(people, frame, tracks, rows, cols, born, new)

    def _clock(self, time: float | None) -> float:
        if time is not None and not math.isfinite(float(time)):
            raise UserError(f"tracker: frame time must be a finite number, got {time!r}")
        now = self._frames / DEFAULT_FPS if time is None else float(time)
        if self._last_time is not None and now > self._last_time:
            step = now - self._last_time
            self._interval = 0.9 * self._interval + 0.1 * step if self._frames > 1 else step
        self._frames += 1
        self._last_time = now
        return now

    def _start(self, person: Person) -> None:
        self._skeleton = skeleton_of(person.keypoints)
        self._tracks = Tracks.empty(person.keypoints.shape[0])
        self._sigmas = keypoint_sigmas(self._skeleton) * self.config.sigma_scale

    def _associate(self, tracks: Tracks, predicted: np.ndarray, frame: Detections, now: float):
        """(rows, cols, mixed): matched tracks and detections, and the (T, D) pairs of live
        confirmed tracks and crowded detections refused for agreeing too little. Tracks seen
        recently first, by keypoint similarity; then tracks lost for up to ``max_lost`` by
        position where unambiguous and no evidence disagrees; then tracks lost for up to
        ``reid_seconds`` by looks or build."""
        cfg = self.config
        agreement, coverage = pose_similarity(predicted, tracks.seen, tracks.area, frame.xy, frame.seen,
                                              self._sigmas, cfg.min_shared)
        distance = keypoint_distance(predicted, tracks.seen, frame.xy, frame.seen, cfg.min_shared)
        inside = distance <= gate_radius(tracks, now, cfg.gate_base, cfg.gate_speed, cfg.coast)[:, None]
        unseen = now - tracks.matched_time
        whole = self._whole(tracks, frame)
        # How well the shared keypoints agree, and a little how much of the person is there (of
        # two pieces of one person, the bigger wins; a fragment of the right person still beats
        # the whole of the wrong one).
        score = np.sqrt(agreement * coverage)
        close = inside & (agreement >= max(cfg.min_similarity, 1e-12))
        # A detection overlapping another may mix two people (one's head on the other's legs):
        # a track takes it only where it agrees well.
        mixed = close & frame.crowded[None] & (agreement < cfg.crowded_similarity)
        close &= ~mixed
        # Fragments keep a live track only while its person was seen whole within max_lost.
        recent = now - tracks.whole_time <= cfg.max_lost
        live = (unseen <= cfg.live_seconds)[:, None] & (recent[:, None] | whole)
        mixed &= live & (tracks.state == CONFIRMED)[:, None]
        # (T, D) clothing agreement, computed once, and only where a track needs it.
        clothing = functools.cache(lambda: histogram_agreement(tracks.looks, frame.looks))
        # A track kept alive by pieces since its person was last seen whole may be following
        # the pieces of someone else (the one in front, in a crossing): it takes a whole
        # person back only if their clothing does not disagree; otherwise the lost tracks'
        # rules decide (where the evidence must agree).
        on_pieces = (now - tracks.whole_time > cfg.live_seconds)[:, None] & whole & live
        if on_pieces.any() and frame.image is not None:
            live &= ~(on_pieces & (clothing() < cfg.looks_match))
        # Tracks born a moment ago from a sliver of someone come last: they do not outbid that
        # person's own track.
        first = ((tracks.state == CONFIRMED) | tracks.sizeable)[:, None]
        # A track that would take a bigger detection over one it agrees with better, both two
        # people's keypoints, coasts this frame (a merged detection must not carry its id away).
        held = ambiguous(agreement, score, close & live, frame.seen, cfg.min_shared)[:, None]
        rows, cols = assign(score, close & live & first & ~held, cfg.strong_similarity)
        free = self._free(len(tracks), rows)[:, None] & self._free(len(frame), cols)[None]
        rows, cols = self._take(rows, cols, *assign(score, close & live & ~first & free, cfg.strong_similarity))

        # Lost tracks may take back a detection held by a track nobody has seen yet (the first
        # sliver of a person coming back into view started it).
        free = self._open(tracks, rows, cols, len(frame))
        # By position, a crowded detection must be most of the person (not a piece of a crowd):
        # of the keypoints the track has, those predicted inside the frame.
        lost = free & whole & inside & (unseen <= cfg.max_lost)[:, None]
        if lost.any():
            most = frame.seen.sum(axis=1)[None] >= 0.6 * self._in_view(tracks, predicted, frame)[:, None]
            lost &= most | ~frame.crowded[None]
            # Unambiguous among everyone the position allows; the evidence can then only veto
            # (when it rules out the nearer of two candidates, the farther is still a guess).
            t, d = recover(self._near(tracks, distance, frame), lost)
            keep = self._evidence(tracks, frame, lost, clothing())[t, d]
            rows, cols = self._take(rows, cols, t[keep], d[keep])

        free = self._open(tracks, rows, cols, len(frame))
        candidates = free & whole & inside & (unseen > cfg.live_seconds)[:, None]
        if candidates.any():
            plausible = self._evidence(tracks, frame, candidates, clothing())
            rows, cols = self._take(rows, cols, *reidentify(tracks.looks, tracks.ratios, frame.looks, frame.ratios,
                                                            candidates & plausible, cfg.looks_match, cfg.ratio_tolerance,
                                                            distance=self._near(tracks, distance, frame),
                                                            rivals=self._rivals(tracks, clothing(), rows, cols),
                                                            looks=clothing()))
        return rows, cols, mixed

    def _late_reidentify(self, tracks: Tracks, rows: np.ndarray, cols: np.ndarray, frame: Detections,
                         now: float) -> np.ndarray:
        """Young tracks matched now whose person is a lost track's, by the evidence
        :func:`reidentify` demands of a returning person; each takes its lost track's id and
        birth, and the lost tracks' rows are returned (they end). A lost track qualifies only if
        its person was last seen whole before the young one was born (never two people at once;
        pieces since, which may be anyone's, do not count) and could have walked from there to
        where the young one is now."""
        cfg = self.config
        if frame.image is None or cfg.late_reid <= 0:  # looks decide, and need the frame
            return np.zeros(0, np.int64)
        young = (now - tracks.born_time[rows] <= cfg.late_reid) & (tracks.born_time[rows] < now)
        lost = self._free(len(tracks), rows) & (tracks.state == CONFIRMED) & (now - tracks.whole_time > cfg.live_seconds)
        if not young.any() or not lost.any():
            return np.zeros(0, np.int64)
        y_rows, y_cols, l_rows = rows[young], cols[young], np.flatnonzero(lost)
        before = tracks.whole_time[l_rows][:, None] < tracks.born_time[y_rows][None]
        reach = gate_radius(tracks, now, cfg.gate_base, cfg.gate_speed, cfg.coast, tracks.whole_time)[l_rows]
        last = keypoint_distance(tracks.keypoints[l_rows], tracks.seen[l_rows], frame.xy[y_cols],
                                 frame.seen[y_cols], cfg.min_shared)
        allowed = before & (last <= reach[:, None])
        if not allowed.any():
            return np.zeros(0, np.int64)
        looks = histogram_agreement(tracks.looks, frame.looks)
        rivals = self._rivals(tracks, looks, rows, cols)[np.ix_(l_rows, y_cols)]
        pairs_l, pairs_y = reidentify(tracks.looks[l_rows], tracks.ratios[l_rows], frame.looks[y_cols],
                                      frame.ratios[y_cols], allowed, cfg.looks_match, cfg.ratio_tolerance,
                                      rivals=rivals, looks=looks[np.ix_(l_rows, y_cols)])
        known = np.isfinite(frame.looks[y_cols[pairs_y]]).any(axis=1)  # looks decided, not build alone
        pairs_l, pairs_y = pairs_l[known], pairs_y[known]
        for li, yi in zip(pairs_l.tolist(), pairs_y.tolist()):
            old, new = l_rows[li], y_rows[yi]
            tracks.ids[new], tracks.born_time[new] = tracks.ids[old], tracks.born_time[old]
            tracks.state[new] = CONFIRMED
            for name in ("looks", "ratios"):  # what the person looked like, seen clearly, goes with the id
                values = getattr(tracks, name)
                values[new] = np.where(np.isfinite(values[old]), values[old], values[new])
        return l_rows[pairs_l]

    def _untangle(self, tracks: Tracks, rows: np.ndarray, cols: np.ndarray, frame: Detections, now: float) -> None:
        """Give back identities swapped in a crowd: among tracks whose people were in one within
        ``untangle_seconds`` (mixed detections: a track may have followed another's person), the
        pairs :func:`association.untangle` finds by their looks exchange ids, birth, looks and
        build (positions and motion stay with the people)."""
        cfg = self.config
        if frame.image is None or cfg.untangle_seconds <= 0 or not len(rows):
            return
        contact = np.flatnonzero((now - tracks.crowded_time <= cfg.untangle_seconds) & (tracks.state == CONFIRMED)
                                 & np.isfinite(tracks.looks).any(axis=1))
        if len(contact) < 2:
            return
        col_of = np.full(len(tracks), -1)
        col_of[rows] = cols
        person = col_of[contact]
        clear = (person >= 0) & ~frame.crowded[person] & np.isfinite(frame.looks[person]).any(axis=1)
        agree = np.full((len(contact), len(contact)), np.nan)  # memory of a x person of b
        agree[:, clear] = histogram_agreement(tracks.looks[contact], frame.looks[person[clear]])
        for a, b in untangle(agree, clear, cfg.looks_match, cfg.untangle_margin):
            i, j = contact[a], contact[b]
            for name in ("ids", "born_time", "looks", "ratios"):
                values = getattr(tracks, name)
                values[[i, j]] = values[[j, i]]

    @staticmethod
    def _rivals(tracks: Tracks, looks: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(T, D) for each track and detection, the detection's best clothing-colour agreement
        (of the (T, D) ``looks``) with a confirmed track other than that one and than those
        matched to it this frame (its own person's): how well the looks of someone else fit
        (NaN: nobody else's looks known)."""
        agreement = np.where(np.isfinite(looks) & (tracks.state == CONFIRMED)[:, None], looks, -np.inf)
        agreement[rows, cols] = -np.inf
        if not agreement.size:
            return np.full(agreement.shape, np.nan)
        best = agreement.argmax(axis=0)
        first = agreement[best, np.arange(agreement.shape[1])]
        agreement[best, np.arange(agreement.shape[1])] = -np.inf
        rival = np.where(np.arange(len(tracks))[:, None] == best[None], agreement.max(axis=0)[None], first[None])
        return np.where(np.isfinite(rival), rival, np.nan)

    def _near(self, tracks: Tracks, distance: np.ndarray, frame: Detections) -> np.ndarray:
        """(T, D) how far each detection is from each track, in the track's person sizes: a
        person back after a while is as likely where they were last seen (they turned back) as
        where they were heading (``distance``, from the prediction): the nearer counts."""
        last = keypoint_distance(tracks.keypoints, tracks.seen, frame.xy, frame.seen, self.config.min_shared)
        return np.minimum(distance, last) / np.maximum(tracks.size, 1.0)[:, None]

    @staticmethod
    def _open(tracks: Tracks, rows: np.ndarray, cols: np.ndarray, num_detections: int) -> np.ndarray:
        """(T, D) bool: unmatched confirmed tracks against detections unmatched or held by a
        track nobody has seen yet (never shown: only slivers so far)."""
        held = cols[tracks.sizeable[rows]]
        free_t = PoseTracker._free(len(tracks), rows) & (tracks.state == CONFIRMED)
        return free_t[:, None] & PoseTracker._free(num_detections, held)[None]

    @staticmethod
    def _take(rows, cols, new_rows, new_cols):
        """The pairs with (new_rows, new_cols) added; a tentative track that held one of the new
        columns loses it."""
        keep = ~np.isin(cols, new_cols)
        return np.concatenate([rows[keep], new_rows]), np.concatenate([cols[keep], new_cols])

    def _in_view(self, tracks: Tracks, predicted: np.ndarray, frame: Detections) -> np.ndarray:
        """(T,) how many of each track's known keypoints are predicted inside the frame (all of
        them without a frame)."""
        if frame.image is None:
            return tracks.seen.sum(axis=1)
        h, w = frame.image.shape[:2]
        x, y = np.moveaxis(predicted + self._camera, -1, 0)
        return (tracks.seen & (x >= 0) & (x < w) & (y >= 0) & (y < h)).sum(axis=1)

    def _same_size(self, tracks: Tracks, frame: Detections, pairs: np.ndarray) -> np.ndarray:
        """(T, D) bool: the track's and the detection's boxes, over the keypoints both have (a
        person half out of the frame is compared on their visible half), are within 1.5x in size;
        True for pairs not in ``pairs`` or with fewer than half the keypoints in common."""
        ok = np.ones(pairs.shape, bool)
        t, d = np.nonzero(pairs)
        both = tracks.seen[t] & frame.seen[d]
        enough = both.sum(axis=1) >= frame.seen.shape[1] // 2
        ratio = np.sqrt(np.maximum(areas(tracks.keypoints[t], both), 1.0) / np.maximum(areas(frame.xy[d], both), 1.0))
        ok[t, d] = ~enough | ((ratio < 1.5) & (ratio > 1 / 1.5))
        return ok

    def _evidence(self, tracks: Tracks, frame: Detections, pairs: np.ndarray, looks: np.ndarray) -> np.ndarray:
        """(T, D) bool: nothing says the pair are two people: sizes within 1.5x, clothing
        colours (the (T, D) ``looks`` agreement, where both are known) and build (where both
        are measured) not disagreeing."""
        cfg = self.config
        ok = self._same_size(tracks, frame, pairs)
        ok &= ~(looks < cfg.looks_match)
        build = ratio_agreement(tracks.ratios, frame.ratios)  # inf: too few bones in common
        ok &= ~(np.isfinite(build) & (build > 2 * cfg.ratio_tolerance))
        return ok

    def _whole(self, tracks: Tracks, frame: Detections) -> np.ndarray:
        """(T, D) bool: the detection is most of the track's person, not a fragment: at least
        ``revive_keypoints``, or half the keypoints the track has seen (a track of someone only
        ever seen in part is renewed by that part)."""
        need = np.minimum(self._revive(frame.seen.shape[1]), np.ceil(0.5 * tracks.seen.sum(axis=1)))
        return frame.seen.sum(axis=1)[None] >= np.maximum(need, self.config.min_shared)[:, None]

    def _revive(self, num_keypoints: int) -> int:
        return self.config.revive_keypoints or max(self.config.min_shared, num_keypoints // 3)

    @staticmethod
    def _free(n: int, taken: np.ndarray) -> np.ndarray:
        free = np.ones(n, bool)
        free[taken] = False
        return free

    def _merge_duplicates(self, tracks: Tracks, rows, cols, frame: Detections, now: float):
        """Merge duplicate tracks (a decoder's split person) into the oldest; the survivor shows
        the bigger piece. Returns the remaining rows and cols and the merged-away rows."""
        cfg = self.config
        duplicate = lifecycle.duplicates(tracks, rows, frame.seen[cols], self._sigmas, cfg.min_shared,
                                         now, cfg.merge_seconds, self._interval)
        for j, i in enumerate(duplicate.tolist()):
            if i >= 0:
                lifecycle.merge_into(tracks, rows[i], rows[j], now)
                if frame.seen[cols[j]].sum() > frame.seen[cols[i]].sum():
                    cols[i] = cols[j]
        keep = duplicate < 0
        return rows[keep], cols[keep], rows[~keep]

    def _births(self, tracks: Tracks, predicted, rows, cols, frame: Detections, now: float, waiting: np.ndarray,
                first: bool):
        """New tracks (ids given now) for unmatched detections that are not pieces of a matched
        person nor ``waiting`` (D,) for a track; people in a video's first frame are confirmed
        at once unless they are fragments."""
        cfg = self.config
        unmatched = self._free(len(frame), cols) & ~waiting
        candidates = np.flatnonzero(unmatched)
        pieces = lifecycle.fragments(predicted, tracks, rows, frame.seen[cols], frame.xy[candidates],
                                     frame.seen[candidates], self._sigmas, cfg.min_shared)
        new = candidates[~pieces]
        whole = frame.seen[new].sum(axis=1) >= frame.seen.shape[1] // 2
        born = lifecycle.newborn(frame.xy[new], frame.seen[new], now, self._next_id,
                                 (first & whole) | (cfg.confirm_frames == 1))
        self._next_id += len(new)
        born.sizeable[:] = frame.sizeable[new]
        if len(new):
            blend_evidence(born, np.arange(len(new)), frame.ratios[new], frame.looks[new])
        return born, new

    def _label(self, people, frame: Detections, tracks: Tracks, rows, cols, born: Tracks, new) -> list[Person]:
        """Set every person's ``track_id`` and return those shown: people of tracks that have
        been seen as more than a sliver (at least ``revive_keypoints`` at once; a few keypoints
        at the frame's edge, or a decoder's stray piece, are not shown as a person of their
        own), confirmed, or tentative with ``show_tentative``; and this frame at least
        ``min_shown`` keypoints of them."""
        shown = np.zeros(len(people), bool)
        for person in people:
            person.track_id = -1
        for t, at, where in ((tracks, rows, cols), (born, slice(None), new)):
            people_shown = t.sizeable[at] & ((t.state[at] != TENTATIVE) | self.config.show_tentative)
            people_shown &= frame.seen[where].sum(axis=1) >= self.config.min_shown
            for track_id, show, col in zip(t.ids[at].tolist(), people_shown.tolist(), where.tolist()):
                people[col].track_id = track_id
                shown[col] = show
        return [p for p, s in zip(people, shown) if s]

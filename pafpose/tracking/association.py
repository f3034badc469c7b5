"""Which detection is which track: gated assignments at true similarity, and re-identification.

Rules (see the README's "Tracking"):

- A pair is only considered inside the *motion gate*: the detection is no further from the
  track's prediction than the person can physically have moved since last seen
  (:func:`state.gate_radius`, person sizes per second, in time, not frames).
- Pairs are scored at their true similarity (OKS at the person's own size; nothing widens it
  with time unseen), and refused below ``min_similarity``.
- :func:`assign` maximises the total squared similarity among gated pairs after fixing every
  strong mutual-best pair: it never gives up a strong pair to make two weak ones.
- Tracks seen recently are matched first; lost tracks only take what is left, and only with
  detections complete enough that a fragment or a bystander's limb does not revive them.
- :func:`ambiguous`: a track that would take a bigger detection over one it agrees with better,
  the two overlapping in keypoint types (two people where it expected one: one passing behind
  another, the network merging them), takes neither this frame; it coasts, and takes its person
  back when they separate, by the usual rules.
- :func:`recover`: a track lost for up to ``max_lost`` takes a person back by position only
  where the pair is unambiguous: every other candidate of either is at least twice as far.
- :func:`reidentify`: a track lost for longer, up to ``reid_seconds``, gets a person back only
  when their looks (clothing colours) or, without a frame, their build (limb ratios) agree, and
  nobody else's agree nearly as well (or, among look-alikes, the pair is unambiguous by
  position); otherwise the person gets a new id.
- :func:`untangle`: two tracks that were in a crowd exchange identities when each one's person,
  seen clearly again, looks like the other's memory and not like their own.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .similarity import histogram_agreement, ratio_agreement

__all__ = ["ambiguous", "assign", "recover", "reidentify", "untangle"]

_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64))


def assign(score: np.ndarray, allowed: np.ndarray, strong: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the chosen pairs among ``allowed`` (R, C) ones.

    Every allowed pair that is the best of both its row and its column and scores at least
    ``strong`` is taken first; the rest are paired by the assignment of the greatest total
    squared score (a refused pair costs nothing, so one pair at 0.9 beats two at 0.5: squares
    favour the strong pair that a plain sum or a count of matches would trade away).
    """
    if not allowed.any():
        return _EMPTY
    s = np.where(allowed, score, -np.inf)
    best_col, best_row = s.argmax(axis=1), s.argmax(axis=0)
    rows = np.arange(len(s))
    fixed = (best_row[best_col] == rows) & (s[rows, best_col] >= strong)
    fixed_rows, fixed_cols = rows[fixed], best_col[fixed]
    free_rows = np.setdiff1d(np.flatnonzero(allowed.any(axis=1)), fixed_rows)
    free_cols = np.setdiff1d(np.flatnonzero(allowed.any(axis=0)), fixed_cols)
    if len(free_rows) and len(free_cols):
        sub = allowed[np.ix_(free_rows, free_cols)]
        cost = np.where(sub, -np.square(score[np.ix_(free_rows, free_cols)]), 0.0)
        r, c = linear_sum_assignment(cost)
        keep = sub[r, c]
        fixed_rows = np.concatenate([fixed_rows, free_rows[r[keep]]])
        fixed_cols = np.concatenate([fixed_cols, free_cols[c[keep]]])
    return fixed_rows.astype(np.int64), fixed_cols.astype(np.int64)


def ambiguous(agreement: np.ndarray, score: np.ndarray, allowed: np.ndarray, seen: np.ndarray,
              min_shared: int, ratio: float = 0.5, least: float = 0.5) -> np.ndarray:
    """(T,) bool: tracks that would take a detection by its size over one that agrees better
    with them, where the two share at least ``min_shared`` keypoint types (so are two people,
    not two pieces of a split one) and the bigger agrees at least ``ratio`` times as well and at
    least ``least`` (a confident match, not a weak one in a crowd): one person passing behind
    another, or the network merging them. Such a track takes neither this frame (it coasts):
    the merged detection must not carry its id onto the other person.

    Args:
        agreement: (T, D) how well the keypoints both have agree (OKS).
        score: (T, D) the assignment's score (agreement and how much of the person is there).
        allowed: (T, D) bool, the pairs that may be matched.
        seen: (D, K) bool, each detection's keypoints.
    """
    out = np.zeros(len(allowed), bool)
    two = np.flatnonzero(allowed.sum(axis=1) >= 2)
    if not len(two):
        return out
    a = np.where(allowed[two], agreement[two], -1.0)
    better = a.argmax(axis=1)
    bigger = np.where(allowed[two], score[two], -np.inf).argmax(axis=1)
    rows = np.arange(len(two))
    out[two] = (bigger != better) & (a[rows, bigger] >= np.maximum(ratio * a[rows, better], least)) \
        & ((seen[bigger] & seen[better]).sum(axis=1) >= min_shared)
    return out


def recover(distance: np.ndarray, allowed: np.ndarray, ratio: float = 2.0,
            least_gap: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of lost tracks and detections by position alone, where nothing else could be meant.

    Args:
        distance: (T, D) distance of each detection from each track's prediction, in the
            track's person sizes.
        allowed: (T, D) bool, pairs inside the motion gate whose evidence (looks, build, size)
            does not disagree.
        ratio, least_gap: a pair is taken only if every other allowed detection of its track and
            every other allowed track of its detection is at least ``ratio`` times as far and
            ``least_gap`` person sizes further: two people where one was lost give a new id, not
            a guess.
    """
    if not allowed.any():
        return _EMPTY
    d = np.where(allowed, distance, np.inf)
    rows, cols = [], []
    for t, c in zip(*np.nonzero(allowed)):
        best = d[t, c]
        other = min(np.delete(d[t], c).min(initial=np.inf), np.delete(d[:, c], t).min(initial=np.inf))
        if other >= max(ratio * best, best + least_gap):
            rows.append(t)
            cols.append(c)
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64)


def reidentify(track_looks: np.ndarray, track_ratios: np.ndarray, det_looks: np.ndarray,
               det_ratios: np.ndarray, allowed: np.ndarray, looks_match: float,
               ratio_tolerance: float, margin: float = 0.05,
               distance: np.ndarray | None = None,
               rivals: np.ndarray | None = None,
               looks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of lost tracks and detections whose evidence says they are the same person.

    Args:
        track_looks, det_looks: (T, H), (D, H) clothing histograms (NaN: unknown).
        track_ratios, det_ratios: (T, 8), (D, 8) limb ratios (NaN: unknown bone).
        allowed: (T, D) bool, pairs inside the motion gate (and of a plausible size).
        looks_match: least Bhattacharyya coefficient of the histograms.
        ratio_tolerance: largest mean |difference| of the log limb ratios.
        margin: a pair is taken only if it beats every other agreeing candidate of its track
            and of its detection by this much, or (with ``distance``) is unambiguous by position
            among them as :func:`recover` sees it: two look-alikes in the same place give a new
            id, not a guess.
        distance: (T, D) distances in the track's person sizes, or None.
        rivals: (T, D) for each pair, how well the detection's looks agree with the best of the
            other people known to be someone else than the track (NaN: nobody's looks known),
            or None. Looks identify someone only among people who look different: a pair whose
            looks agree no better (by ``margin``) than with such a rival is not taken.
        looks: the (T, D) :func:`histogram_agreement` of the looks, where the caller has it.

    Looks decide where both have a histogram region in common (and the limb ratios, where known, must not
    disagree badly); otherwise the limb ratios decide; with neither, nobody is re-identified.
    """
    if not allowed.any():
        return _EMPTY
    looks = histogram_agreement(track_looks, det_looks) if looks is None else looks
    build = ratio_agreement(track_ratios, det_ratios)
    known = np.isfinite(looks)
    clash = np.isfinite(build) & (build > 2 * ratio_tolerance)  # inf: too few bones in common
    agree = np.where(known, (looks >= looks_match) & ~clash, build <= ratio_tolerance)
    score = np.where(known, np.nan_to_num(looks), 1.0 - np.minimum(build / max(ratio_tolerance, 1e-9), 1.0))
    if rivals is not None:
        agree &= ~known | ~(rivals > looks - margin)
    agree &= allowed
    if not agree.any():
        return _EMPTY
    s = np.where(agree, score, -np.inf)
    near = set() if distance is None else set(zip(*(x.tolist() for x in recover(distance, agree))))
    rows, cols = [], []
    for t, d in zip(*np.nonzero(agree)):
        row, col = np.delete(s[t], d), np.delete(s[:, d], t)
        if (row.max(initial=-np.inf) + margin <= s[t, d] and col.max(initial=-np.inf) + margin <= s[t, d]) \
                or (t, d) in near:
            rows.append(t)
            cols.append(d)
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64)


def untangle(agree: np.ndarray, clear: np.ndarray, looks_match: float, margin: float) -> list[tuple[int, int]]:
    """Pairs (a, b) of tracks to exchange identities, among C tracks whose people were in a crowd.

    Args:
        agree: (C, C) agreement of track a's remembered looks with the person track b is matched
            to now (NaN: unknown).
        clear: (C,) bool, the track's person is seen clearly now (not crowded, looks known).
        looks_match, margin: b's person must agree with a's memory at least ``looks_match``
            and by ``margin`` more than with b's own memory and with anyone else's; and a's
            person, seen clearly too, must point back at b's memory the same way (one-sided
            evidence swaps more people than it mends). Each track is in at most one pair.
    """
    a_of = np.nan_to_num(agree, nan=-1.0)
    own = np.diag(a_of).copy()
    np.fill_diagonal(a_of, -1.0)
    swapped = np.zeros(len(a_of), bool)
    pairs = []

    def points_at(memory: int, person: int) -> bool:  # clearly that memory, nobody else's
        others = np.delete(a_of[:, person], memory).max(initial=-1.0)
        return clear[person] and a_of[memory, person] >= max(looks_match, own[person] + margin, others + margin)

    for b in np.flatnonzero(clear & (own < looks_match)):
        a = int(np.argmax(a_of[:, b]))
        if points_at(a, b) and points_at(b, a) and not (swapped[a] or swapped[b]):
            swapped[[a, b]] = True
            pairs.append((a, int(b)))
    return pairs

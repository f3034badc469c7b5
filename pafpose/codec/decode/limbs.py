"""Stages 2 and 3: scoring candidate limbs by their PAF line integrals, and matching them.

Scoring: for every limb, every candidate pair at once (all limbs together in one flat array),
the PAF is sampled bilinearly at ``num_samples`` points along the segment and dotted with its
unit direction. A pair is kept when at least ``min_inlier_fraction`` of the samples exceed
``paf_threshold`` and the mean plus the length penalty ``min(0.5 * image_height / length - 1, 0)``
is positive; that sum is the limb score. An exact pre-test at a few points (where no cell around
a point has a field above the threshold the sample must fail) discards most pairs between
different people before any sampling, and the samples are then taken in rounds that drop a pair
once it has failed at too many points, so the cost follows the pairs that could be limbs rather
than all pairs. :func:`score_pairs` scores given pairs the same way (assembly's weak bridges).

Matching: per limb a one-to-one assignment, ``"greedy"`` (the original: best pair first;
computed for all limbs at once as rounds of mutually best pairs, which picks the same pairs) or
``"hungarian"`` (maximum total score, ``scipy.optimize.linear_sum_assignment``). Both give the
same AP on clean and degraded ground-truth maps (benchmarks/decode.py); greedy is the default as
the faster and the original.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .params import DecodeParams
from .peaks import Peaks
from .sampling import sample_fields

__all__ = ["LimbCandidates", "score_limbs", "score_pairs", "match_limbs", "merged_candidates"]


@dataclass
class LimbCandidates:
    """Candidate connections of all limbs, flat: limb index, candidate indices a -> b, score."""

    limb: np.ndarray
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray


def _strong_blocks(pafs: np.ndarray, threshold: float) -> np.ndarray:
    """Flat (L*H*W,) bool: some cell of the 2x2 block with lower corner (i, j) of limb l's field
    is longer than ``threshold``."""
    strong = pafs[0::2] ** 2 + pafs[1::2] ** 2 > threshold ** 2
    blocks = strong.copy()
    blocks[:, :, :-1] |= strong[:, :, 1:]
    blocks[:, :-1, :] |= blocks[:, 1:, :].copy()
    return blocks.reshape(-1)


def score_limbs(peaks: Peaks, pafs: np.ndarray, limbs: np.ndarray, stride: float,
                image_height: float, params: DecodeParams, fresh: np.ndarray | None = None) -> LimbCandidates:
    """Score every candidate pair of every limb; returns the pairs that pass both criteria.

    Args:
        peaks: N candidates from :func:`~pafpose.codec.decode.peaks.find_peaks`.
        pafs: (2L, H, W) fields.
        limbs: (L, 2) keypoint types (from, to).
        image_height: input height in pixels, for the length penalty.
        fresh: (N,) bool; if given, only pairs with a fresh end are scored (the others were
            scored before candidates were added).

    Returns:
        The passing pairs ordered by limb, then a, then b.
    """
    type_a, type_b = limbs[:, 0], limbs[:, 1]
    n_a, n_b = peaks.count[type_a], peaks.count[type_b]
    pairs = n_a * n_b
    limb = np.repeat(np.arange(len(limbs)), pairs)
    row, col = np.divmod(np.arange(pairs.sum()) - np.repeat(np.cumsum(pairs) - pairs, pairs), n_b[limb])
    a = peaks.start[type_a][limb] + row
    b = peaks.start[type_b][limb] + col
    if fresh is not None:
        keep = np.flatnonzero(fresh[a] | fresh[b])
        limb, a, b = limb[keep], a[keep], b[keep]

    samples = params.num_samples
    t = np.linspace(0.0, 1.0, samples)
    needed = math.ceil(params.min_inlier_fraction * samples - 1e-9)
    # (Python's set, not np.unique: that imports numpy.ma on first use, a tenth of a second.)
    probe = np.array(sorted({round(v) for v in np.linspace(0, samples - 1, samples - needed + 3)[1:-1]}), dtype=int)
    # The few pairs of added candidates are cheaper to sample than to pre-test.
    pruned = len(probe) == samples - needed + 1 and len(a) > 0 and fresh is None
    if pruned:
        # Exact pruning, before the costly sampling: a pair failing at more than
        # samples - needed points is out, and a sample fails where none of the 4 cells it
        # interpolates has a field stronger than the threshold. Most pairs join different
        # people and fail at a few interior points. This is the only work done on every pair,
        # so it runs on flat float32 coordinates and the lower-corner cell index alone (exact
        # but for points within float32 rounding of a cell edge, where the cell left out of the
        # block has a weight of ~1e-7).
        _, h, w = pafs.shape
        x, y = peaks.xy[:, 0].astype(np.float32), peaks.xy[:, 1].astype(np.float32)
        xa, ya = x[a], y[a]
        dx, dy = x[b] - xa, y[b] - ya
        tp = t[probe].astype(np.float32)
        x0 = np.clip(xa[:, None] + tp * dx[:, None], 0.0, max(w - 2, 0)).astype(np.int32)
        y0 = np.clip(ya[:, None] + tp * dy[:, None], 0.0, max(h - 2, 0)).astype(np.int32)
        x0 += y0 * w
        x0 += (limb * (h * w)).astype(np.int32)[:, None]
        strong = _strong_blocks(pafs, params.paf_threshold)
        keep = np.flatnonzero(strong[x0].any(axis=1))
        limb, a, b = limb[keep], a[keep], b[keep]
    start, delta = peaks.xy[a], peaks.xy[b] - peaks.xy[a]
    length = np.hypot(delta[:, 0], delta[:, 1])  # cells
    unit = delta / np.maximum(length, 1e-9)[:, None]
    # Sampling in rounds, the probe points first: after each round, pairs already failing at
    # more than samples - needed points are out and are not sampled further.
    allowed = samples - needed
    rest = np.array([i for i in range(samples) if i not in set(probe.tolist())], dtype=int)
    rounds = [probe, rest[:allowed + 1], rest[allowed + 1:]] if pruned else [np.arange(samples)]
    support, fails = np.zeros((len(a), 0)), np.zeros(len(a), dtype=np.int64)
    for points in (r for r in rounds if len(r)):
        along = start[:, None, :] + t[points][None, :, None] * delta[:, None, :]  # (P, S, 2)
        values = (sample_fields(pafs, limb, along) * unit[:, None, :]).sum(axis=2)
        support = np.concatenate([support, values], axis=1)
        fails += np.count_nonzero(values <= params.paf_threshold, axis=1)
        keep = np.flatnonzero(fails <= allowed)
        limb, a, b, start, delta, length, unit, support, fails = (
            v[keep] for v in (limb, a, b, start, delta, length, unit, support, fails))
    with np.errstate(divide="ignore"):
        penalty = np.minimum(0.5 * image_height / (length * stride) - 1.0, 0.0)
    score = support.mean(axis=1) + penalty
    keep = (score > 0) & (length > 0)
    return LimbCandidates(limb=limb[keep], a=a[keep], b=b[keep], score=score[keep])


def score_pairs(peaks: Peaks, limb: np.ndarray, a: np.ndarray, b: np.ndarray, pafs: np.ndarray,
                stride: float, image_height: float, params: DecodeParams) -> LimbCandidates:
    """The given pairs (limb, candidate a -> b) scored as :func:`score_limbs` scores all pairs
    (the same inlier test and score, no pruning); returns those that pass."""
    samples = params.num_samples
    needed = math.ceil(params.min_inlier_fraction * samples - 1e-9)
    start, delta = peaks.xy[a], peaks.xy[b] - peaks.xy[a]
    length = np.hypot(delta[:, 0], delta[:, 1])
    unit = delta / np.maximum(length, 1e-9)[:, None]
    along = start[:, None, :] + np.linspace(0.0, 1.0, samples)[None, :, None] * delta[:, None, :]
    values = (sample_fields(pafs, limb, along) * unit[:, None, :]).sum(axis=2)
    with np.errstate(divide="ignore"):
        penalty = np.minimum(0.5 * image_height / (length * stride) - 1.0, 0.0)
    score = values.mean(axis=1) + penalty
    keep = (np.count_nonzero(values > params.paf_threshold, axis=1) >= needed) & (score > 0) & (length > 0)
    return LimbCandidates(limb=limb[keep], a=a[keep], b=b[keep], score=score[keep])


def merged_candidates(old: LimbCandidates, new: LimbCandidates, remap: np.ndarray) -> LimbCandidates:
    """Pairs scored before candidates were added (indices renumbered by ``remap``, (N_old,) new
    index or -1 for a candidate no longer kept) together with the pairs of the added ones, in
    :func:`score_limbs` order, so matching sees exactly what scoring all pairs anew would give."""
    a, b = remap[old.a], remap[old.b]
    kept = (a >= 0) & (b >= 0)
    limb = np.concatenate([old.limb[kept], new.limb])
    a, b = np.concatenate([a[kept], new.a]), np.concatenate([b[kept], new.b])
    order = np.lexsort((b, a, limb))
    return LimbCandidates(limb=limb[order], a=a[order], b=b[order],
                          score=np.concatenate([old.score[kept], new.score])[order])


def _greedy(c: LimbCandidates, num_candidates: int) -> np.ndarray:
    """Indices of the pairs the best-first one-to-one assignment picks, all limbs at once.

    A pair that is the best remaining one for both its endpoints (within its limb) is exactly a
    pair best-first selection takes, so each round takes all such pairs and drops their rivals.
    """
    rank = np.empty(len(c.score), dtype=np.int64)
    rank[np.argsort(-c.score, kind="stable")] = np.arange(len(c.score))
    key_a = c.limb * num_candidates + c.a
    key_b = c.limb * num_candidates + c.b
    alive = np.ones(len(rank), dtype=bool)
    chosen = []
    best = np.empty((c.limb.max() + 1) * num_candidates, dtype=np.int64)
    while alive.any():
        live = np.flatnonzero(alive)
        best.fill(len(rank))
        np.minimum.at(best, key_a[live], rank[live])
        best_a = best[key_a[live]]
        best.fill(len(rank))
        np.minimum.at(best, key_b[live], rank[live])
        best_b = best[key_b[live]]
        won = live[(best_a == rank[live]) & (best_b == rank[live])]
        chosen.append(won)
        used = np.zeros_like(best, dtype=bool)
        used[key_a[won]] = True
        used[key_b[won]] = True
        alive[live[used[key_a[live]] | used[key_b[live]]]] = False
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def _hungarian(c: LimbCandidates) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment  # only here: importing scipy.optimize is slow

    chosen = []
    bounds = np.flatnonzero(np.diff(c.limb, prepend=-1, append=c.limb.max(initial=0) + 1))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        a_ids, a_row = np.unique(c.a[lo:hi], return_inverse=True)
        b_ids, b_col = np.unique(c.b[lo:hi], return_inverse=True)
        # Pairs that failed scoring cost 0, i.e. are as good as leaving both ends unmatched.
        gain = np.zeros((len(a_ids), len(b_ids)))
        gain[a_row, b_col] = c.score[lo:hi]
        index = np.full(gain.shape, -1)
        index[a_row, b_col] = np.arange(lo, hi)
        rows, cols = linear_sum_assignment(gain, maximize=True)
        picked = index[rows, cols]
        chosen.append(picked[picked >= 0])
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def match_limbs(candidates: LimbCandidates, num_candidates: int, method: str) -> LimbCandidates:
    """One-to-one assignment per limb ("greedy" or "hungarian"); returns the chosen connections."""
    if not len(candidates.score):
        return candidates
    chosen = _greedy(candidates, num_candidates) if method == "greedy" else _hungarian(candidates)
    chosen = np.sort(chosen)
    return LimbCandidates(limb=candidates.limb[chosen], a=candidates.a[chosen],
                          b=candidates.b[chosen], score=candidates.score[chosen])


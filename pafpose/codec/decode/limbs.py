"""Stage 2: candidate limbs scored by their PAF line integrals.

For every limb, every candidate pair at once (all limbs together in one flat array), the PAF is
sampled bilinearly at ``num_samples`` points along the segment and dotted with its unit
direction. A pair passes when at least ``min_inlier_fraction`` of the samples exceed
``paf_threshold`` and the mean plus the length penalty ``min(0.5 * image_height / length - 1,
0)`` is positive; that sum is the limb score. :func:`score_pairs` is the one scorer; scoring all
pairs (:func:`score_limbs`) first drops, by an exact test at a few points (where no cell around
a point has a field above the threshold the sample must fail), most pairs between different
people, then samples in rounds that drop a pair once it has failed at too many points, so the
cost follows the pairs that could be limbs rather than all pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .params import DecodeParams
from .peaks import Peaks
from .sampling import sample_fields

__all__ = ["LimbCandidates", "candidate_pairs", "merged_candidates", "score_limbs", "score_pairs"]


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


def candidate_pairs(peaks: Peaks, limbs: np.ndarray, fresh: np.ndarray | None = None):
    """Every pair (limb, candidate a of its first type, candidate b of its second), flat, ordered
    by limb, then a, then b; with ``fresh`` ((N,) bool) only the pairs with a fresh end."""
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
    return limb, a, b


def score_limbs(peaks: Peaks, pafs: np.ndarray, limbs: np.ndarray, params: DecodeParams,
                fresh: np.ndarray | None = None) -> LimbCandidates:
    """Every candidate pair of every limb scored (:func:`score_pairs`, pre-tested when they are
    all pairs); with ``fresh`` ((N,) bool) only the pairs with a fresh end, the others having
    been scored before candidates were added. Returns the pairs that pass, ordered by limb, then
    a, then b."""
    limb, a, b = candidate_pairs(peaks, limbs, fresh)
    return score_pairs(peaks, pafs, limb, a, b, params, pretest=fresh is None)


def _failing_pretest(peaks: Peaks, pafs: np.ndarray, limb: np.ndarray, a: np.ndarray, b: np.ndarray,
                     probe: np.ndarray, t: np.ndarray, threshold: float) -> np.ndarray:
    """(P,) bool: the pair fails at every ``probe`` point, where no cell the sample would
    interpolate has a field longer than ``threshold``.

    This is the only work done on every pair, so it runs on flat float32 coordinates and the
    lower-corner cell index alone (exact but for points within float32 rounding of a cell edge,
    where the cell left out of the block has a weight of ~1e-7).
    """
    _, h, w = pafs.shape
    x, y = peaks.xy[:, 0].astype(np.float32), peaks.xy[:, 1].astype(np.float32)
    xa, ya = x[a], y[a]
    dx, dy = x[b] - xa, y[b] - ya
    tp = t[probe].astype(np.float32)
    x0 = np.clip(xa[:, None] + tp * dx[:, None], 0.0, max(w - 2, 0)).astype(np.int32)
    y0 = np.clip(ya[:, None] + tp * dy[:, None], 0.0, max(h - 2, 0)).astype(np.int32)
    x0 += y0 * w
    x0 += (limb * (h * w)).astype(np.int32)[:, None]
    return ~_strong_blocks(pafs, threshold)[x0].any(axis=1)


def score_pairs(peaks: Peaks, pafs: np.ndarray, limb: np.ndarray, a: np.ndarray, b: np.ndarray,
                params: DecodeParams, pretest: bool = False) -> LimbCandidates:
    """The limb scorer: pairs (limb, candidate a -> b) scored by their fields' line integrals.

    A pair passes when at least ``min_inlier_fraction`` of its ``num_samples`` samples exceed
    ``paf_threshold`` and its score, the mean projection plus the length penalty, is positive.

    Args:
        peaks: the candidates; pafs: (2L, H, W) fields; limb, a, b: (P,) the pairs.
        pretest: first drop the pairs that must fail (most pairs between different people, when
            these are all pairs), then sample in rounds, dropping a pair once it has failed at
            too many points. The scores of the pairs kept are those of sampling them all.

    Returns:
        The passing pairs, in the given order.
    """
    samples = params.num_samples
    t = np.linspace(0.0, 1.0, samples)
    needed = math.ceil(params.min_inlier_fraction * samples - 1e-9)
    allowed = samples - needed  # failing samples a pair may have
    # (Python's set, not np.unique: that imports numpy.ma on first use, a tenth of a second.)
    probe = np.array(sorted({round(v) for v in np.linspace(0, samples - 1, allowed + 3)[1:-1]}), dtype=int)
    pretest = pretest and len(probe) == allowed + 1 and len(a) > 0
    if pretest:  # a pair failing at all allowed + 1 probe points is out
        keep = np.flatnonzero(~_failing_pretest(peaks, pafs, limb, a, b, probe, t, params.paf_threshold))
        limb, a, b = limb[keep], a[keep], b[keep]
    start, delta = peaks.xy[a], peaks.xy[b] - peaks.xy[a]
    length = np.hypot(delta[:, 0], delta[:, 1])  # cells
    unit = delta / np.maximum(length, 1e-9)[:, None]
    rest = np.array([i for i in range(samples) if i not in set(probe.tolist())], dtype=int)
    rounds = [probe, rest[:allowed + 1], rest[allowed + 1:]] if pretest else [np.arange(samples)]
    support, fails = np.zeros((len(a), 0)), np.zeros(len(a), dtype=np.int64)
    for points in (r for r in rounds if len(r)):
        along = start[:, None, :] + t[points][None, :, None] * delta[:, None, :]  # (P, S, 2)
        values = (sample_fields(pafs, limb, along) * unit[:, None, :]).sum(axis=2)
        support = np.concatenate([support, values], axis=1)
        fails += np.count_nonzero(values <= params.paf_threshold, axis=1)
        keep = np.flatnonzero(fails <= allowed)
        limb, a, b, start, delta, length, unit, support, fails = (
            v[keep] for v in (limb, a, b, start, delta, length, unit, support, fails))
    # min(0.5 * image height / limb length - 1, 0), both in cells.
    with np.errstate(divide="ignore"):
        penalty = np.minimum(0.5 * pafs.shape[1] / length - 1.0, 0.0)
    score = support.mean(axis=1) + penalty
    keep = (score > 0) & (length > 0)
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

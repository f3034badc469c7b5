"""Stage 3: a one-to-one assignment of the scored limbs, per limb.

``"greedy"`` (the original: best pair first; computed for all limbs at once as rounds of
mutually best pairs, which picks the same pairs) or ``"hungarian"`` (maximum total score,
``scipy.optimize.linear_sum_assignment``). Both give the same AP on clean and degraded
ground-truth maps (benchmarks/decode.py); greedy is the default as the faster and the original.
"""

from __future__ import annotations

import numpy as np

from .limbs import LimbCandidates

__all__ = ["match_limbs"]


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


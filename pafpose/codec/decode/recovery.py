"""Stage 4: keypoints recovered from the fields where the heatmaps left no peak.

A candidate whose limb has a field around it but no connection is the end of a limb whose other
end left no peak (occluded, or the neck of a person with one shoulder hidden, since the neck
exists only where both shoulders do). Following that field finds the lost keypoint; such
keypoints join the candidates, and only the pairs they form are scored and matching runs again
(only on maps that have any, so clean maps cost nothing more).
"""

from __future__ import annotations

import numpy as np

from .arrays import components, median
from .limbs import LimbCandidates
from .params import DecodeParams
from .peaks import Peaks, grouped
from .sampling import sample_fields

__all__ = ["recover_keypoints"]

_CHUNK = 8  # most half-cell steps traced at once along a straight line before re-aiming


def _open_ends(peaks: Peaks, connections: LimbCandidates, limbs: np.ndarray):
    """Every (candidate, limb) that could have a connection of that limb and has none.

    Returns (P,) candidate indices, (P,) limbs and (P,) the end of the limb the candidate sits
    at (0: the field points away from it, 1: towards it).
    """
    candidate, limb, side = [], [], []
    for end in (0, 1):
        count = peaks.count[limbs[:, end]]
        limb.append(np.repeat(np.arange(len(limbs)), count))
        first = np.repeat(peaks.start[limbs[:, end]] - (np.cumsum(count) - count), count)
        candidate.append(first + np.arange(count.sum()))
        side.append(np.full(count.sum(), end))
    candidate, limb, side = np.concatenate(candidate), np.concatenate(limb), np.concatenate(side)
    num = len(peaks.score)
    taken = np.zeros(len(limbs) * num, dtype=bool)
    taken[connections.limb * num + connections.a] = True
    taken[connections.limb * num + connections.b] = True
    free = ~taken[limb * num + candidate]
    return candidate[free], limb[free], side[free]



def _trace(pafs: np.ndarray, limb: np.ndarray, start: np.ndarray, direction: np.ndarray,
           sign: np.ndarray, best: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow limbs' fields from their open ends to where they fade.

    From (P, 2) start points along (P, 2) unit directions, in half-cell steps, while the field
    along the direction is at least half the largest seen so far (``best``, (P,), to begin with)
    and inside the map: half the maximum is where a blurred band ends, so blur does not move the
    end. Limbs are straight, so the steps go in chunks along a line, re-aimed after each chunk at
    the mean field the chunk crossed (one vectorised sampling per chunk, not per step); chunks
    of 1, 2, 4, then 8 steps, so a noisy first direction is corrected early.

    Args:
        pafs: (2L, H, W); limb: (P,); sign: (P,) +1 where the field points away from the start.

    Returns:
        (P, 2) ends, (P,) largest support along each trace, (P,) cells travelled.
    """
    _, h, w = pafs.shape
    centre, extent = np.array([(w - 1) / 2, (h - 1) / 2]), np.array([(w - 1) / 2, (h - 1) / 2])
    position, direction, best = start.copy(), direction.copy(), best.copy()
    travelled = np.zeros(len(limb))
    alive = np.arange(len(limb))
    chunk, total = 1, 0
    while len(alive) and total < 4 * (h + w):  # at most twice across the map, as a bound
        total += chunk
        ahead = position[alive, None] + (0.5 * np.arange(1, chunk + 1))[:, None] * direction[alive, None]  # (A, C, 2)
        field = sample_fields(pafs, limb[alive], ahead) * sign[alive, None, None]
        along = (field * direction[alive, None]).sum(axis=2)  # (A, C)
        # The largest support seen before each step and up to it.
        running = np.maximum.accumulate(np.concatenate([best[alive, None], along], axis=1), axis=1)
        going = (np.abs(ahead - centre) <= extent).all(axis=2) & (along >= 0.5 * running[:, :-1])
        taken = np.concatenate([going, np.zeros((len(alive), 1), dtype=bool)], axis=1).argmin(axis=1)
        moved = np.flatnonzero(taken)
        index, last = alive[moved], taken[moved] - 1
        position[index] = ahead[moved, last]
        travelled[index] += 0.5 * taken[moved]
        best[index] = running[moved, taken[moved]]
        crossed = np.cumsum(field[moved], axis=1)[np.arange(len(moved)), last]
        norm = np.hypot(crossed[:, 0], crossed[:, 1])
        direction[index] = np.where(norm[:, None] > 1e-9, crossed / np.maximum(norm, 1e-9)[:, None],
                                    direction[index])
        alive = alive[taken == chunk]
        chunk = min(2 * chunk, _CHUNK)
    return position, best, travelled


def recover_keypoints(peaks: Peaks, connections: LimbCandidates, pafs: np.ndarray,
                      limbs: np.ndarray, params: DecodeParams) -> tuple[Peaks, np.ndarray] | None:
    """Candidates for keypoints the heatmaps lost but the PAFs still show, or None if there are none.

    Each candidate with a limb's field around it but no connection of that limb is traced along
    that field (:func:`_trace`) to the limb's other end. Ends of the same type within
    ``recover_radius`` cells are one keypoint; ends that land on an existing candidate of their
    type add nothing. A recovered keypoint's score is half the largest support along its trace
    (it has one limb's evidence and no heat of its own).

    Args:
        peaks: N candidates; connections: the matched pairs; pafs: (2L, H, W); limbs: (L, 2).

    Returns:
        All candidates, old and new, in :class:`Peaks` order, and (M,) the index each had before
        (N or more for a new one).
    """
    candidate, limb, side = _open_ends(peaks, connections, limbs)
    sign = np.where(side == 0, 1.0, -1.0)  # towards the missing end
    vector = sample_fields(pafs, limb, peaks.xy[candidate]) * sign[:, None]
    support = np.hypot(vector[:, 0], vector[:, 1])
    # A field is a limb's when somewhere along the trace it is as strong as half this image's
    # typical connection; weaker ones are noise (which on a noisy map passes paf_threshold nearly
    # everywhere). At the limb's end the band has faded to about half, hence a quarter here.
    typical = median(connections.score) if len(connections.score) else np.inf
    keep = support > max(params.paf_threshold, 0.25 * typical)
    if not keep.any():
        return None
    candidate, limb, side, sign, vector, support = (
        v[keep] for v in (candidate, limb, side, sign, vector, support))
    position, best, travelled = _trace(pafs, limb, peaks.xy[candidate], vector / support[:, None], sign, support)
    kind = limbs[limb, 1 - side]
    found = (travelled >= 1.0) & (best >= 0.5 * typical)
    xy, kind, score = position[found], kind[found], 0.5 * best[found]
    if not len(kind):
        return None
    # Ends on an existing candidate of their type: that limb failed for another reason.
    pairs_new = np.repeat(np.arange(len(kind)), peaks.count[kind])
    pairs_old = np.repeat(peaks.start[kind] - (np.cumsum(peaks.count[kind]) - peaks.count[kind]),
                          peaks.count[kind]) + np.arange(peaks.count[kind].sum())
    near = np.hypot(*(xy[pairs_new] - peaks.xy[pairs_old]).T) < params.recover_radius
    fresh = np.ones(len(kind), dtype=bool)
    fresh[pairs_new[near]] = False
    xy, kind, score = xy[fresh], kind[fresh], score[fresh]
    if not len(kind):
        return None
    # Several traces reach the same lost keypoint (a neck from both hips, a shoulder and the nose).
    gap = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    groups, group = components(*np.nonzero((gap < params.recover_radius) & (kind[:, None] == kind[None])), len(kind))
    size = np.bincount(group, minlength=groups)
    xy = np.stack([np.bincount(group, weights=xy[:, d], minlength=groups) for d in (0, 1)], axis=1) / size[:, None]
    best_score = np.zeros(groups)
    np.maximum.at(best_score, group, score)
    group_kind = np.zeros(groups, dtype=np.int64)
    group_kind[group] = kind
    return grouped(np.concatenate([peaks.kind, group_kind]), np.concatenate([peaks.xy, xy]),
                   np.concatenate([peaks.score, best_score]), len(peaks.count), params.max_candidates)

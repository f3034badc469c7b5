# Vendored baseline for the decode benchmarks: pafpose/decode.py exactly as of commit 7f7e151
# ("write_image: JPEG quality only for JPEG files"), the decoder before issue 12's robustness
# work (recovery, fragment merging, noise-following thresholds). Only its three relative imports
# are rewritten to the modules' current addresses; nothing else is changed, so it is the
# "before" of every comparison in benchmarks/decode.py and benchmarks/decode_robustness.py.
# Not part of the package; do not edit.
"""Bottom-up parsing: from confidence maps and Part Affinity Fields to people.

The algorithm of Cao et al. (CVPR 2017, TPAMI 2019), in four vectorised stages:

1. **Peaks.** Per keypoint type, the heatmap is smoothed by a Gaussian of ``smooth_sigma`` cells
   (the original demo smooths too, at input resolution; smoothing a Gaussian peak gives a wider
   Gaussian at the same place, so nothing is lost on clean maps and noise peaks vanish), then
   cells above ``peak_threshold`` that are the maximum of their 3x3 neighbourhood (ties go to the
   first cell in raster order, so a plateau gives one peak) are refined to sub-cell precision.
   The default refinement fits a parabola to the log of the map along x and y, which is exact for
   Gaussian peaks, so stride-8 maps locate keypoints far below the 4-pixel quantisation.
   ``peak_mode="upsample"`` is the original demo's alternative: maps resized to input size
   (bicubic) and smoothed (sigma 3 px) before non-maximum suppression, peaks on the pixel grid.
   At most ``max_candidates`` peaks (the strongest) are kept per type, which bounds the cost of a
   map full of spurious peaks. A peak's score is the raw heatmap value at its cell.
2. **Limb scoring.** For every limb, every candidate pair at once (all limbs together in one flat
   array): the PAF is sampled bilinearly at ``num_samples`` points along the segment and dotted
   with its unit direction. A pair is kept when at least ``min_inlier_fraction`` of the samples
   exceed ``paf_threshold`` and the mean plus the length penalty
   ``min(0.5 * image_height / length - 1, 0)`` is positive; that sum is the limb score. An exact
   pre-test at a few points (where no cell around a point has a field above the threshold the
   sample must fail) discards most pairs between different people before any sampling, and the
   samples are then taken in rounds that drop a pair once it has failed at too many points, so
   the cost follows the pairs that could be limbs rather than all pairs.
3. **Matching.** Per limb a one-to-one assignment: ``"greedy"`` (the original: best pair first;
   computed for all limbs at once as rounds of mutually best pairs, which picks the same pairs)
   or ``"hungarian"`` (maximum total score, ``scipy.optimize.linear_sum_assignment``). Both give
   the same AP on clean and degraded ground-truth maps (benchmarks/decode.py); greedy is the
   default as the faster and the original.
4. **Assembly.** Greedy by limb score: a limb touching one person joins it, one joining two people
   merges them when they share no keypoint type, else it is dropped; otherwise it starts a
   person. When a connected group of limbs holds each keypoint type at most once, greedy assembly
   yields exactly that group, so only groups with a conflict are assembled one limb at a time.
   People with fewer than ``min_parts`` keypoints, or whose mean score per keypoint (sum of
   keypoint scores + sum of limb scores, over the number of keypoints: the original's test) is
   below ``min_score``, are dropped. The ranking score ``Person.score`` is by default the sum
   itself (``person_score="total"``), which ranks complete people above fragments of equal
   quality: on ground-truth maps of busy synthetic scenes, where overlapping limbs split some
   people into fragments, it gives COCO AP 0.860 against 0.823 for the per-keypoint mean
   (``person_score="mean"``, the original's value), and the same on the real COCO samples.

Coordinates: map cell (i, j) is centred on input pixel ``(j*stride + stride/2 - 0.5,
i*stride + stride/2 - 0.5)``, the convention of :mod:`pafpose.targets`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pafpose.errors import UserError
from pafpose.codec.people import Person
from pafpose.codec.skeleton import Skeleton, get_skeleton

__all__ = ["DecodeParams", "Peaks", "LimbCandidates", "decode", "find_peaks", "score_limbs", "match_limbs",
           "assemble"]

_LOG_FLOOR = 1e-4  # log-parabola fit: values below this are treated as this (noise, cut-offs)
_ORIGINAL_SMOOTHING_SIGMA = 3.0  # pixels, as in the CMU demo


@dataclass(frozen=True)
class DecodeParams:
    """Decoder settings; ``decode(..., **params)`` takes these as keyword arguments.

    Attributes:
        peak_threshold: minimum heatmap value of a peak.
        peak_mode: "refine" (NMS at map resolution + sub-cell refinement) or "upsample" (the
            original: resize to input size, Gaussian smoothing, NMS on the pixel grid).
        smooth_sigma: in "refine" mode, Gaussian smoothing (in map cells) of the heatmaps before
            NMS and refinement (refinement within 2 sigma of the border uses the raw maps); 0
            turns it off. Peak scores are read from the raw maps.
        refine: sub-cell refinement in "refine" mode: "quadratic" (parabola through the log of
            the 3 values along x and along y), "centroid" (3x3 weighted centroid) or "none"
            (cell centres).
        max_candidates: most peaks kept per keypoint type (the strongest).
        num_samples: PAF samples per candidate limb.
        paf_threshold: a sample counts as support when its PAF.direction exceeds this.
        min_inlier_fraction: fraction of samples that must be support.
        image_height: input height in pixels for the length penalty; None means maps' height
            times stride.
        matching: "greedy" or "hungarian".
        min_parts: fewest keypoints a person may have.
        min_score: lowest mean score per keypoint of a person kept.
        person_score: "total" (sum of keypoint and limb scores) or "mean" (that sum over the
            number of keypoints) as ``Person.score``, the ranking used by COCO evaluation.
    """

    peak_threshold: float = 0.1
    peak_mode: str = "refine"
    smooth_sigma: float = 1.0
    refine: str = "quadratic"
    max_candidates: int = 100
    num_samples: int = 10
    paf_threshold: float = 0.05
    min_inlier_fraction: float = 0.8
    image_height: float | None = None
    matching: str = "greedy"
    min_parts: int = 3
    min_score: float = 0.4
    person_score: str = "total"

    def __post_init__(self) -> None:
        choices = {"peak_mode": ("refine", "upsample"), "refine": ("quadratic", "centroid", "none"),
                   "matching": ("greedy", "hungarian"), "person_score": ("total", "mean")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(f"decode: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.max_candidates < 1 or self.num_samples < 2 or self.min_parts < 1:
            raise UserError("decode: max_candidates and min_parts must be >= 1, num_samples >= 2")
        if not 0.0 <= self.min_inlier_fraction <= 1.0:
            raise UserError(f"decode: min_inlier_fraction must lie in [0, 1], got {self.min_inlier_fraction}")
        if not self.smooth_sigma >= 0:
            raise UserError(f"decode: smooth_sigma must be >= 0, got {self.smooth_sigma}")
        if self.image_height is not None and not self.image_height > 0:
            raise UserError(f"decode: image_height must be positive, got {self.image_height}")

    @classmethod
    def from_kwargs(cls, params: dict) -> DecodeParams:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise UserError(f"decode: unknown parameter(s) {unknown}; known: {sorted(known)}")
        return cls(**params)


@dataclass
class Peaks:
    """Keypoint candidates of all types, grouped by type (ascending), strongest first per type.

    Attributes:
        xy: (N, 2) float64 positions in map cells (cell (i, j) centred at (j, i)).
        score: (N,) heatmap values.
        kind: (N,) keypoint type of each candidate.
        start: (K,) index of each type's first candidate; ``count``: (K,) candidates per type.
    """

    xy: np.ndarray
    score: np.ndarray
    kind: np.ndarray
    start: np.ndarray
    count: np.ndarray


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _as_numpy(maps, name: str) -> np.ndarray:
    if hasattr(maps, "detach"):  # torch tensor on any device
        maps = maps.detach().to("cpu").float().numpy()
    try:
        maps = np.asarray(maps, dtype=np.float32)
    except (TypeError, ValueError):
        raise UserError(f"decode: {name} must be a numeric array, got {type(maps).__name__}") from None
    if maps.ndim != 3:
        raise UserError(f"decode: {name} must have shape (C, H, W) for one image, got {maps.shape}")
    if not np.isfinite(maps).all():
        raise UserError(f"decode: {name} contain NaN or inf")
    return maps


def _check_inputs(heatmaps, pafs, stride, sk: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(stride, bool) or not isinstance(stride, (int, float, np.integer, np.floating)) \
            or not stride > 0 or not math.isfinite(stride):
        raise UserError(f"decode: stride must be a positive number, got {stride!r}")
    heatmaps, pafs = _as_numpy(heatmaps, "heatmaps"), _as_numpy(pafs, "pafs")
    k, num_limbs = sk.num_keypoints, sk.num_limbs
    if heatmaps.shape[0] not in (k, k + 1):
        raise UserError(f"decode: heatmaps need {k} or {k + 1} channels for skeleton {sk.name!r}, "
                        f"got {heatmaps.shape[0]}")
    if pafs.shape[0] != 2 * num_limbs:
        raise UserError(f"decode: pafs need {2 * num_limbs} channels ({num_limbs} limbs x 2) for "
                        f"skeleton {sk.name!r}, got {pafs.shape[0]}")
    if heatmaps.shape[1:] != pafs.shape[1:] or 0 in heatmaps.shape[1:]:
        raise UserError(f"decode: heatmaps {heatmaps.shape} and pafs {pafs.shape} must share a "
                        f"non-empty (H, W)")
    return heatmaps[:k], pafs


# --------------------------------------------------------------------------------------------
# 1. peaks
# --------------------------------------------------------------------------------------------

# The 3x3 neighbours that precede a cell in raster order; a peak must be strictly above them.
_EARLIER = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1)])
_SQUARE = np.ones((3, 3), np.uint8)


def _local_maxima(maps: np.ndarray, threshold: float):
    """(k, i, j, value) of the 3x3 maxima above ``threshold`` of (K, H, W) float32 maps."""
    num, h, w = maps.shape
    # One 2-D dilation for all channels, kept apart by a row of -inf between them.
    stacked = np.full((num, h + 1, w), -np.inf, np.float32)
    stacked[:, :h] = maps
    grown = cv2.dilate(stacked.reshape(-1, w), _SQUARE).reshape(num, h + 1, w)[:, :h]
    k, i, j = np.nonzero((maps > threshold) & (maps >= grown))
    value = maps[k, i, j]
    # Plateaus: of equal neighbours only the first in raster order survives.
    rows, cols = i[:, None] + _EARLIER[:, 0], j[:, None] + _EARLIER[:, 1]
    inside = (rows >= 0) & (cols >= 0) & (cols < w)
    earlier = np.where(inside, maps[k[:, None], rows.clip(0), cols.clip(0, w - 1)], -np.inf)
    keep = (value[:, None] > earlier).all(axis=1)
    return k[keep], i[keep], j[keep], value[keep]


def _refine_offsets(maps: np.ndarray, k, i, j, method: str) -> np.ndarray:
    """(N, 2) sub-cell (dx, dy) offsets in [-0.5, 0.5] of the peaks at (k, i, j)."""
    offsets = np.zeros((len(k), 2))
    if method == "none" or not len(k):
        return offsets
    _, h, w = maps.shape
    padded = np.pad(maps, ((0, 0), (1, 1), (1, 1)))
    window = padded[k[:, None, None], i[:, None, None] + np.arange(3)[:, None],
                    j[:, None, None] + np.arange(3)].astype(np.float64)  # (N, 3, 3)
    if method == "quadratic":
        return np.clip(_log_parabola_offsets(np.log(np.maximum(window, _LOG_FLOOR)), i, j, h, w),
                       -0.5, 0.5)
    weight = np.maximum(window, 0.0)
    total = weight.sum((1, 2))
    offsets[:, 0] = (weight.sum(1) @ np.array([-1.0, 0.0, 1.0])) / total
    offsets[:, 1] = (weight.sum(2) @ np.array([-1.0, 0.0, 1.0])) / total
    # A peak on the border has no outer neighbour to balance the centroid.
    offsets[:, 0] = np.where((j == 0) | (j == w - 1), 0.0, offsets[:, 0])
    offsets[:, 1] = np.where((i == 0) | (i == h - 1), 0.0, offsets[:, 1])
    return np.clip(offsets, -0.5, 0.5)


def _log_parabola_offsets(logs: np.ndarray, i: np.ndarray, j: np.ndarray, h: int, w: int) -> np.ndarray:
    """(N, 2) peak offsets of a parabola through the log of (N, 3, 3) windows along x and y.

    On the map's border one neighbour is missing; a Gaussian peak is isotropic, so the
    curvature measured along the other axis stands in (l(d) = a + c (d - m)^2 / 2 gives
    m = 0.5 - (l(1) - l(0)) / c from the inner neighbour alone).
    """
    lines = (logs[:, 1, :], logs[:, :, 1])  # along x, along y
    position, size = (j, i), (w, h)
    curvature = [line[:, 0] - 2.0 * line[:, 1] + line[:, 2] for line in lines]
    inside = [(p > 0) & (p < n - 1) for p, n in zip(position, size)]
    offsets = np.zeros((len(i), 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, line in enumerate(lines):
            before, centre, after = line[:, 0], line[:, 1], line[:, 2]
            fit = inside[axis] & (curvature[axis] < -1e-9)
            offsets[:, axis] = np.where(fit, 0.5 * (before - after) / curvature[axis], 0.0)
            other = curvature[1 - axis]
            borrow = ~inside[axis] & inside[1 - axis] & (other < -1e-9) & (size[axis] > 1)
            one_sided = np.where(position[axis] == 0, 0.5 - (after - centre) / other,
                                 (before - centre) / other - 0.5)
            offsets[:, axis] = np.where(borrow, one_sided, offsets[:, axis])
    return offsets


def _smoothed(maps: np.ndarray, sigma: float) -> np.ndarray:
    """(K, H, W) maps blurred by a Gaussian of ``sigma`` cells (a Gaussian peak stays a Gaussian
    peak at the same place, so refinement stays exact). Outside the map counts as 0: a mirrored
    border would mirror peaks near it and pull them outwards."""
    channels_last = cv2.GaussianBlur(np.ascontiguousarray(maps.transpose(1, 2, 0)), (0, 0), sigma,
                                     borderType=cv2.BORDER_CONSTANT)
    return channels_last.reshape(maps.shape[1], maps.shape[2], -1).transpose(2, 0, 1)


def _upsampled_maxima(maps: np.ndarray, stride: float, threshold: float):
    """The original demo's peaks: maps resized to input size, smoothed, NMS on pixels.

    Returns (k, xy in map cells, score).
    """
    channels_last = np.ascontiguousarray(maps.transpose(1, 2, 0))
    k = maps.shape[0]
    big = cv2.resize(channels_last, None, fx=stride, fy=stride, interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), _ORIGINAL_SMOOTHING_SIGMA).reshape(big.shape[0], big.shape[1], k)
    kind, row, col, score = _local_maxima(big.transpose(2, 0, 1), threshold)
    xy = (np.stack([col, row], axis=1) - (stride / 2.0 - 0.5)) / stride
    return kind, xy, score


def find_peaks(heatmaps: np.ndarray, stride: float, params: DecodeParams) -> Peaks:
    """Keypoint candidates of (K, H, W) float32 heatmaps; see the module docstring."""
    num_types = heatmaps.shape[0]
    if params.peak_mode == "upsample":
        kind, xy, score = _upsampled_maxima(heatmaps, stride, params.peak_threshold)
    else:
        smooth = _smoothed(heatmaps, params.smooth_sigma) if params.smooth_sigma > 0 else heatmaps
        kind, row, col, _ = _local_maxima(smooth, params.peak_threshold)
        score = heatmaps[kind, row, col]
        offsets = _refine_offsets(smooth, kind, row, col, params.refine)
        # Zero padding pulls smoothed peaks near the border inwards; refine those on the raw maps.
        margin = math.ceil(2 * params.smooth_sigma)
        _, h, w = heatmaps.shape
        near = (np.minimum(row, h - 1 - row) < margin) | (np.minimum(col, w - 1 - col) < margin)
        if params.smooth_sigma > 0 and near.any():
            offsets[near] = _refine_offsets(heatmaps, kind[near], row[near], col[near], params.refine)
        xy = np.stack([col, row], axis=1) + offsets
    order = np.lexsort((-score, kind))
    kind, xy, score = kind[order], xy[order], score[order].astype(np.float64)
    count = np.bincount(kind, minlength=num_types)
    start = np.cumsum(count) - count
    rank = np.arange(len(kind)) - start[kind]
    if (count > params.max_candidates).any():
        keep = rank < params.max_candidates
        kind, xy, score = kind[keep], xy[keep], score[keep]
        count = np.minimum(count, params.max_candidates)
        start = np.cumsum(count) - count
    return Peaks(xy=xy, score=score, kind=kind, start=start, count=count)


# --------------------------------------------------------------------------------------------
# 2. limb scoring
# --------------------------------------------------------------------------------------------


@dataclass
class LimbCandidates:
    """Candidate connections of all limbs, flat: limb index, candidate indices a -> b, score."""

    limb: np.ndarray
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray


def _lower_corner(start: np.ndarray, delta: np.ndarray, t: np.ndarray, w: int, h: int):
    """Sample points ``start + t * delta`` clamped to the map, and the integer lower corners of
    their bilinear cells (kept one cell inside the map, so the upper corner always exists);
    (P, 2) vectors, (S,) fractions -> four (P, S) arrays: x, y, x0, y0."""
    x = np.clip(start[:, :1] + t * delta[:, :1], 0.0, w - 1)
    y = np.clip(start[:, 1:] + t * delta[:, 1:], 0.0, h - 1)
    return x, y, np.minimum(x.astype(np.int64), max(w - 2, 0)), np.minimum(y.astype(np.int64), max(h - 2, 0))


def _strong_blocks(pafs: np.ndarray, threshold: float) -> np.ndarray:
    """Flat (L*H*W,) bool: some cell of the 2x2 block with lower corner (i, j) of limb l's field
    is longer than ``threshold``."""
    strong = pafs[0::2] ** 2 + pafs[1::2] ** 2 > threshold ** 2
    blocks = strong.copy()
    blocks[:, :, :-1] |= strong[:, :, 1:]
    blocks[:, :-1, :] |= blocks[:, 1:, :].copy()
    return blocks.reshape(-1)


def _limb_support(pafs: np.ndarray, limb: np.ndarray, start: np.ndarray, delta: np.ndarray,
                  unit: np.ndarray, t: np.ndarray) -> np.ndarray:
    """PAF . direction at points ``start + t * delta`` (bilinear); (P,) limbs, (P, 2) vectors,
    (S,) fractions -> (P, S)."""
    _, h, w = pafs.shape
    x, y, x0, y0 = _lower_corner(start, delta, t, w, h)
    fx, fy = x - x0, y - y0
    step_x, step_y = int(w > 1), w * int(h > 1)
    corner = (2 * h * w) * limb[:, None] + y0 * w + x0
    flat = pafs.reshape(-1)
    weights = ((1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy)
    offsets = (0, step_x, step_y, step_x + step_y)
    paf_x = sum(flat[corner + o] * wt for o, wt in zip(offsets, weights))
    paf_y = sum(flat[corner + (h * w + o)] * wt for o, wt in zip(offsets, weights))
    return paf_x * unit[:, :1] + paf_y * unit[:, 1:]


def score_limbs(peaks: Peaks, pafs: np.ndarray, limbs: np.ndarray, stride: float,
                image_height: float, params: DecodeParams) -> LimbCandidates:
    """Score every candidate pair of every limb; returns the pairs that pass both criteria.

    Args:
        peaks: candidates from :func:`find_peaks`.
        pafs: (2L, H, W) fields.
        limbs: (L, 2) keypoint types (from, to).
        image_height: input height in pixels, for the length penalty.
    """
    type_a, type_b = limbs[:, 0], limbs[:, 1]
    n_a, n_b = peaks.count[type_a], peaks.count[type_b]
    pairs = n_a * n_b
    limb = np.repeat(np.arange(len(limbs)), pairs)
    row, col = np.divmod(np.arange(pairs.sum()) - np.repeat(np.cumsum(pairs) - pairs, pairs), n_b[limb])
    a = peaks.start[type_a][limb] + row
    b = peaks.start[type_b][limb] + col

    samples = params.num_samples
    t = np.linspace(0.0, 1.0, samples)
    needed = math.ceil(params.min_inlier_fraction * samples - 1e-9)
    probe = np.unique(np.round(np.linspace(0, samples - 1, samples - needed + 3)[1:-1]).astype(int))
    pruned = len(probe) == samples - needed + 1 and len(a) > 0
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
    rest = np.setdiff1d(np.arange(samples), probe)
    rounds = [probe, rest[:allowed + 1], rest[allowed + 1:]] if pruned else [np.arange(samples)]
    support, fails = np.zeros((len(a), 0)), np.zeros(len(a), dtype=np.int64)
    for points in (r for r in rounds if len(r)):
        values = _limb_support(pafs, limb, start, delta, unit, t[points])
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


# --------------------------------------------------------------------------------------------
# 3. matching
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# 4. assembly
# --------------------------------------------------------------------------------------------


def _assemble_greedily(a: np.ndarray, b: np.ndarray, score: np.ndarray, kind: np.ndarray):
    """Best-first assembly of connections (a_i, b_i); returns a person label per connection
    (-1 for dropped ones)."""
    owner: dict[int, int] = {}
    members: list[dict[int, int]] = []  # person -> {keypoint type: candidate}
    label = np.full(len(a), -1)
    for i in np.argsort(-score, kind="stable"):
        ca, cb = int(a[i]), int(b[i])
        pa, pb = owner.get(ca), owner.get(cb)
        if pa is None and pb is None:
            members.append({int(kind[ca]): ca, int(kind[cb]): cb})
            owner[ca] = owner[cb] = label[i] = len(members) - 1
        elif pa is not None and pb is not None:
            if pa != pb:
                if members[pa].keys() & members[pb].keys():
                    continue
                members[pa].update(members[pb])
                for node in members[pb].values():
                    owner[node] = pa
                members[pb] = {}
                label[label == pb] = pa
            label[i] = pa
        else:
            person, new = (pa, cb) if pa is not None else (pb, ca)
            if int(kind[new]) in members[person]:
                continue
            members[person][int(kind[new])] = new
            owner[new] = label[i] = person
    return label


def assemble(peaks: Peaks, connections: LimbCandidates, num_types: int, stride: float,
             params: DecodeParams) -> list[Person]:
    """People from the chosen connections; see the module docstring."""
    if not len(connections.score):
        return []
    num_candidates = len(peaks.score)
    graph = coo_matrix((np.ones(len(connections.a)), (connections.a, connections.b)),
                       shape=(num_candidates, num_candidates))
    _, group = connected_components(graph, directed=False)
    used = np.zeros(num_candidates, dtype=bool)
    used[connections.a] = used[connections.b] = True
    per_type = np.bincount(group[used] * num_types + peaks.kind[used],
                           minlength=(group.max() + 1) * num_types).reshape(-1, num_types)
    conflict = (per_type > 1).any(axis=1)

    # Each connection's person: its group, unless the group has a conflict and needs best-first
    # assembly (labels above all group labels).
    label = group[connections.a].copy()
    tangled = np.flatnonzero(conflict[label])
    if len(tangled):
        sub = _assemble_greedily(connections.a[tangled], connections.b[tangled],
                                 connections.score[tangled], peaks.kind)
        label[tangled] = np.where(sub >= 0, sub + group.max() + 1, -1)
    kept = label >= 0
    label, ends = label[kept], np.concatenate([connections.a[kept], connections.b[kept]])
    people_ids, label = np.unique(label, return_inverse=True)
    num_people = len(people_ids)

    keypoints = np.zeros((num_people, num_types, 3))
    node_person = np.concatenate([label, label])
    keypoints[node_person, peaks.kind[ends], 0] = peaks.xy[ends, 0] * stride + (stride / 2.0 - 0.5)
    keypoints[node_person, peaks.kind[ends], 1] = peaks.xy[ends, 1] * stride + (stride / 2.0 - 0.5)
    keypoints[node_person, peaks.kind[ends], 2] = peaks.score[ends]
    parts = np.count_nonzero(keypoints[:, :, 2] > 0, axis=1)
    limb_total = np.bincount(label, weights=connections.score[kept], minlength=num_people)
    total = keypoints[:, :, 2].sum(axis=1) + limb_total
    mean = total / np.maximum(parts, 1)
    score = total if params.person_score == "total" else mean
    good = np.flatnonzero((parts >= params.min_parts) & (mean >= params.min_score))
    good = good[np.argsort(-score[good], kind="stable")]
    return [Person(keypoints=keypoints[p], score=float(score[p])) for p in good]


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------


def decode(heatmaps, pafs, stride: float = 8, skeleton: str | Skeleton = "coco18",
           **params) -> list[Person]:
    """People in one image from its network maps.

    Args:
        heatmaps: (K or K+1, H, W) numpy array or torch tensor; a trailing background channel is
            ignored. K = 18 for COCO-18.
        pafs: (2L, H, W); channel 2l = x and 2l+1 = y of the skeleton's limb l.
        stride: input pixels per map cell.
        skeleton: "coco18" or a :class:`~pafpose.skeleton.Skeleton` with PAF limbs.
        **params: fields of :class:`DecodeParams`.

    Returns:
        People sorted by score (best first), keypoints in input-image pixels.

    Raises:
        UserError (a ValueError): wrong shapes or channel counts, NaN/inf, stride <= 0, unknown
        parameters.
    """
    config = DecodeParams.from_kwargs(params)
    sk = get_skeleton(skeleton)
    heatmaps, pafs = _check_inputs(heatmaps, pafs, stride, sk)
    stride = float(stride)
    image_height = config.image_height or heatmaps.shape[1] * stride
    peaks = find_peaks(heatmaps, stride, config)
    limbs = np.asarray(sk.limbs, dtype=np.int64).reshape(-1, 2)
    candidates = score_limbs(peaks, pafs, limbs, stride, image_height, config)
    connections = match_limbs(candidates, len(peaks.score), config.matching)
    return assemble(peaks, connections, sk.num_keypoints, stride, config)

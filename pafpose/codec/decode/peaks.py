"""Stage 1: keypoint candidates (peaks) of the heatmaps.

Per keypoint type the heatmap is smoothed by a Gaussian of ``smooth_sigma`` cells (the original
demo smooths too, at input resolution; smoothing a Gaussian peak gives a wider Gaussian at the
same place, so nothing is lost on clean maps and noise peaks vanish), then cells above the peak
threshold that are the maximum of their 3x3 neighbourhood (ties go to the first cell in raster
order, so a plateau gives one peak) are refined to sub-cell precision. The default refinement
fits a parabola to the log of the map along x and y, which is exact for Gaussian peaks, so
stride-8 maps locate keypoints far below the 4-pixel quantisation. At most ``max_candidates``
peaks (the strongest) are kept per type, which bounds the cost of a map full of spurious peaks.
A peak's score is the raw heatmap value at its cell.

The threshold (:func:`peak_threshold`) is ``peak_threshold`` (low, 0.03: a weak or blurred map's
real peaks sink to ~0.1 after smoothing, and spurious ones die for want of PAF support), raised
with the maps' noise but never above a fraction of their own strong peaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .params import DecodeParams

__all__ = ["Peaks", "find_peaks", "grouped", "noise_sigma", "peak_threshold"]

_LOG_FLOOR = 1e-4  # log-parabola fit: values below this are treated as this (noise, cut-offs)


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


# The 3x3 neighbours that precede a cell in raster order; a peak must be strictly above them.
_EARLIER = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1)])
_SQUARE = np.ones((3, 3), np.uint8)


def _local_maxima(maps: np.ndarray, threshold: float):
    """(k, i, j, value) of the 3x3 maxima above ``threshold`` of (H, W, K) float32 maps."""
    h, w, _ = maps.shape
    peak = maps >= cv2.dilate(maps, _SQUARE)  # OpenCV dilates all channels at once, border ignored
    peak &= maps > threshold
    # A flat index: numpy's multi-dimensional nonzero is many times slower on a sparse mask.
    i, j, k = np.unravel_index(np.flatnonzero(peak), maps.shape)
    value = maps[i, j, k]
    # Plateaus: of equal neighbours only the first in raster order survives.
    rows, cols = i[:, None] + _EARLIER[:, 0], j[:, None] + _EARLIER[:, 1]
    inside = (rows >= 0) & (cols >= 0) & (cols < w)
    earlier = np.where(inside, maps[rows.clip(0), cols.clip(0, w - 1), k[:, None]], -np.inf)
    keep = (value[:, None] > earlier).all(axis=1)
    return k[keep], i[keep], j[keep], value[keep]


def _refine_offsets(maps: np.ndarray, k, i, j, method: str) -> np.ndarray:
    """(N, 2) sub-cell (dx, dy) offsets in [-0.5, 0.5] of the peaks at (k, i, j) of (H, W, K) maps."""
    offsets = np.zeros((len(k), 2))
    if method == "none" or not len(k):
        return offsets
    h, w, _ = maps.shape
    rows, cols = i[:, None, None] + np.arange(-1, 2)[:, None], j[:, None, None] + np.arange(-1, 2)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # outside the map counts as 0
    window = np.where(inside, maps[rows.clip(0, h - 1), cols.clip(0, w - 1), k[:, None, None]],
                      0.0).astype(np.float64)  # (N, 3, 3)
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
    """(H, W, K) maps blurred by a Gaussian of ``sigma`` cells (a Gaussian peak stays a Gaussian
    peak at the same place, so refinement stays exact). Outside the map counts as 0: a mirrored
    border would mirror peaks near it and pull them outwards."""
    return cv2.GaussianBlur(maps, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT).reshape(maps.shape)


def noise_sigma(maps: np.ndarray) -> float:
    """Standard deviation of the noise of (K, H, W) confidence maps.

    A confidence map is nowhere negative, so its negative values are noise alone: for noise of
    zero mean, the mean of min(x, 0)^2 is half its variance wherever the map is 0.
    """
    flat = maps[:, ::2, ::2].reshape(-1)  # every fourth cell measures the noise as well
    negative = np.minimum(flat, 0.0)
    return math.sqrt(2.0 * float(negative @ negative) / len(flat))


def peak_threshold(maps: np.ndarray, params: DecodeParams) -> float:
    """The peak threshold of (K, H, W) (smoothed) heatmaps, any memory layout.

    ``peak_threshold``, raised to ``noise_factor`` times the maps' noise (noise makes the ground
    between people bumpy, and the bumps pass a threshold set for weak but clean maps), but never
    above ``signal_fraction`` of the maps' strong-peak level: the channel maximum a quarter of
    the way up from the weakest channel's. Blur and attenuation lower the true peaks while noise
    raises the noise term, so without that bound the threshold overtakes the signal and every
    peak goes at once; noise peaks let through then die for want of PAF support. That lower quartile of the channel maxima lies below the channels a spurious blob
    or one strong person dominates, and above those with nobody in them.
    """
    maxima = np.sort(maps.max(axis=(1, 2)))
    ceiling = params.signal_fraction * maxima[(len(maxima) - 1) // 4] if len(maxima) else 0.0
    if ceiling <= params.peak_threshold:  # the noise cannot raise it: skip measuring it
        return params.peak_threshold
    return min(max(params.peak_threshold, params.noise_factor * noise_sigma(maps)), ceiling)


def find_peaks(heatmaps: np.ndarray, params: DecodeParams) -> Peaks:
    """Keypoint candidates of (K, H, W) float32 heatmaps, positions in map cells."""
    num_types, h, w = heatmaps.shape
    raw = np.ascontiguousarray(heatmaps.transpose(1, 2, 0))  # (H, W, K): OpenCV filters all channels at once
    smooth = _smoothed(raw, params.smooth_sigma) if params.smooth_sigma > 0 else raw
    kind, row, col, _ = _local_maxima(smooth, peak_threshold(smooth.transpose(2, 0, 1), params))
    score = raw[row, col, kind]
    offsets = _refine_offsets(smooth, kind, row, col, params.refine)
    # Zero padding pulls smoothed peaks near the border inwards; refine those on the raw maps.
    margin = math.ceil(2 * params.smooth_sigma)
    near = (np.minimum(row, h - 1 - row) < margin) | (np.minimum(col, w - 1 - col) < margin)
    if params.smooth_sigma > 0 and near.any():
        offsets[near] = _refine_offsets(raw, kind[near], row[near], col[near], params.refine)
    xy = np.stack([col, row], axis=1) + offsets
    return grouped(kind, xy, score, num_types, params.max_candidates)[0]


def grouped(kind: np.ndarray, xy: np.ndarray, score: np.ndarray, num_types: int,
            max_candidates: int) -> tuple[Peaks, np.ndarray]:
    """:class:`Peaks` of (N,) types, (N, 2) positions and (N,) scores: grouped by type, strongest
    first, at most ``max_candidates`` per type; and (M,) the input index of each candidate kept."""
    order = np.lexsort((-score, kind))
    kind, xy, score = kind[order], xy[order], score[order].astype(np.float64)
    count = np.bincount(kind, minlength=num_types)
    start = np.cumsum(count) - count
    if (count > max_candidates).any():
        keep = np.arange(len(kind)) - start[kind] < max_candidates
        kind, xy, score, order = kind[keep], xy[keep], score[keep], order[keep]
        count = np.minimum(count, max_candidates)
        start = np.cumsum(count) - count
    return Peaks(xy=xy, score=score, kind=kind, start=start, count=count), order

"""The one bilinear sampler of Part Affinity Fields, used by limb scoring and by recovery."""

from __future__ import annotations

import numpy as np

__all__ = ["field_noise", "fields_noisier_than", "sample_fields"]


def sample_fields(pafs: np.ndarray, limb: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinearly interpolated field vectors of limbs at points given in map cells.

    Cell (i, j) holds the field at (x, y) = (j, i); points outside the map are clamped onto its
    border (the field there is the border's, not zero: a limb ending on the border keeps its
    support). A map one cell wide or high is constant along that axis.

    Args:
        pafs: (2L, H, W) fields; channel 2l = x and 2l + 1 = y of limb l.
        limb: (P,) int limb of each row of points.
        xy: (P, ..., 2) points (x, y), any number of points per row.

    Returns:
        (P, ..., 2) float64 field vectors (x, y).
    """
    _, h, w = pafs.shape
    # (np.minimum/np.maximum rather than np.clip: the same values, less overhead on small arrays.)
    x = np.minimum(np.maximum(xy[..., 0], 0.0), w - 1)
    y = np.minimum(np.maximum(xy[..., 1], 0.0), h - 1)
    # The lower corner stays one cell inside the map, so the upper corner always exists; on the
    # last row or column the weight then falls on the upper corner.
    x0 = np.minimum(x.astype(np.int64), max(w - 2, 0))
    y0 = np.minimum(y.astype(np.int64), max(h - 2, 0))
    fx, fy = x - x0, y - y0
    corner = (2 * h * w) * limb.reshape((-1,) + (1,) * (x.ndim - 1)) + y0 * w + x0
    step_x, step_y = int(w > 1), w * int(h > 1)
    flat = pafs.reshape(-1)
    weights = ((1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy)
    offsets = (0, step_x, step_y, step_x + step_y)
    return np.stack([sum(flat[corner + (c * h * w + o)] * wt for o, wt in zip(offsets, weights))
                     for c in (0, 1)], axis=-1)


def _noise_sample(pafs: np.ndarray) -> np.ndarray:
    # Every 7th value of the flat maps (7 shares no factor with common map widths, so the sample
    # spreads over rows, columns and channels); fields are zero away from limbs, so most of the
    # sample is noise alone.
    return np.abs(pafs.reshape(-1)[::7])


def field_noise(pafs: np.ndarray) -> float:
    """Robust standard deviation of the noise of (2L, H, W) fields: 1.4826 x the median absolute
    value of a sample of the cells."""
    return 1.4826 * float(np.median(_noise_sample(pafs)))


def fields_noisier_than(pafs: np.ndarray, sigma: float) -> bool:
    """``field_noise(pafs) > sigma``, without the median's cost: the median absolute value
    exceeds a level exactly when more than half the sample does."""
    sample = _noise_sample(pafs)
    return 2 * np.count_nonzero(sample > sigma / 1.4826) > len(sample)

"""Stage 5: keypoints placed where their limbs' fields say they are.

A heatmap peak locates a keypoint only as well as the heatmap's noise allows: on a weak map
(blurred, attenuated, noisy) its error is about a map cell, which is what the Cramér-Rao bound
of a Gaussian peak of that height in that noise gives, so no better peak finder can do much
better. A limb's field is further, independent evidence: a band along the whole limb whose
centre line passes through both of the limb's keypoints. So every limb of an assembled person
gives a line its two keypoints lie on, and each keypoint moves to the point that best fits the
lines of its limbs and its own peak, each weighted by how much it can be trusted (at issue 20's
severe level, with people assembled from the peaks nearest the truth, the keypoints' error goes
from 0.99 to 0.86 cells rms on the bundled photos and from 0.97 to 0.86 on synthetic crowds):

- a line: fitted to the band's lateral centre (a Gaussian-windowed mean of the field's projection
  on the limb, at ``_SAMPLES_ALONG`` places along the middle of the limb) with the direction of
  the band's mean field; its weight is the band's total support (projection summed over the
  samples), so a faint or half-missing band counts for little;
- the peak: ``placement_prior`` times its heatmap value squared (a peak's precision grows as the
  square of its height over the noise), so clean maps' strong peaks hardly move while weak ones
  lean on their limbs.

Only keypoints whose peak is under half a confidence map's full height move, and only limbs
with such an end are fitted: a strong peak is placed by the heatmap itself to a small fraction
of a cell. :func:`~pafpose.codec.decode.decode` places keypoints on noisy maps only
(``DecodeParams.noisy_fields`` and ``noisy_heatmaps``): on the real network's maps placement
changed AP by -0.001 to +0.003 (40 annotated views of the bundled photos, four input heights),
not worth its 0.3 ms.

One line fixes a keypoint only across its limb (a wrist moves sideways onto its forearm, not
along it); two limbs at an angle fix it in both directions. Limbs shorter than a cell carry no
usable line and are skipped. Measured on benchmarks/decode_robustness.py (see the README): both
degradation recipes gain at every noisy level, on the benchmark's seeds and on six others.
"""

from __future__ import annotations

import numpy as np

from .sampling import sample_fields

__all__ = ["place_on_limbs"]

_SAMPLES_ALONG = np.linspace(0.25, 0.75, 6)  # the middle half: a limb's ends overlap its neighbours'
_ACROSS = np.arange(-2.5, 2.75, 0.5)  # cells either side of the current line
_WINDOW = 1.5  # cells: the band's centre is sought this close to the current line
_MIN_LENGTH = 1.0  # cells
# Peaks this high (half a confidence map's full height) are placed by the heatmap itself to a
# small fraction of a cell; they stay.
_STRONG_PEAK = 0.5
_FIRST_WINDOW = np.exp(-_ACROSS ** 2 / (2 * _WINDOW ** 2))


def _limb_lines(keypoints: np.ndarray, pafs: np.ndarray, limbs: np.ndarray, weak: np.ndarray):
    """The field's centre lines of every limb of every person that has both ends, one of them
    ``weak`` ((P, K) bool).

    Returns:
        person (M,), limb (M,), normal (M, 2) of the current limb, the lateral offsets (M, 2) of
        the centre line at the limb's two ends along that normal, and its weight (M,).
    """
    present = keypoints[:, :, 2] > 0
    person, limb = np.nonzero(present[:, limbs[:, 0]] & present[:, limbs[:, 1]]
                              & (weak[:, limbs[:, 0]] | weak[:, limbs[:, 1]]))
    start, end = keypoints[person, limbs[limb, 0], :2], keypoints[person, limbs[limb, 1], :2]
    span = end - start
    length = np.hypot(span[:, 0], span[:, 1])
    usable = length >= _MIN_LENGTH
    person, limb, start, span, length = person[usable], limb[usable], start[usable], span[usable], length[usable]
    along = span / length[:, None]
    normal = np.stack([-along[:, 1], along[:, 0]], axis=1)
    points = (start[:, None, None] + _SAMPLES_ALONG[:, None, None] * span[:, None, None]
              + _ACROSS[:, None] * normal[:, None, None])  # (M, T, S, 2)
    field = sample_fields(pafs, limb, points)
    fx, fy = field[..., 0], field[..., 1]
    support = np.maximum(fx * along[:, 0, None, None] + fy * along[:, 1, None, None], 0.0)
    # Mean shift across the limb: the band's centre near the current line, not a neighbour's band.
    weight = support * _FIRST_WINDOW
    centre = (weight @ _ACROSS) / np.maximum(weight.sum(axis=2), 1e-12)
    weight = support * np.exp(-(_ACROSS - centre[:, :, None]) ** 2 / (2 * _WINDOW ** 2))
    total = weight.sum(axis=2)
    centre = (weight @ _ACROSS) / np.maximum(total, 1e-12)
    strength = total.sum(axis=1)
    mid = (total * _SAMPLES_ALONG).sum(axis=1) / np.maximum(strength, 1e-12)
    offset = (total * centre).sum(axis=1) / np.maximum(strength, 1e-12)
    # The band's direction is its mean field's: the tilt from the current limb, per unit of t.
    inside = support > 0
    forward = support.sum(axis=(1, 2))
    sideways = normal[:, 0] * (fx * inside).sum(axis=(1, 2)) + normal[:, 1] * (fy * inside).sum(axis=(1, 2))
    tilt = np.where(forward > 1e-9, sideways / np.maximum(forward, 1e-9), 0.0) * length
    ends = np.stack([offset - tilt * mid, offset + tilt * (1.0 - mid)], axis=1)
    return person, limb, normal, ends, strength


def place_on_limbs(keypoints: np.ndarray, pafs: np.ndarray, limbs: np.ndarray, prior: float) -> np.ndarray:
    """Keypoints moved onto the centre lines of their limbs' fields (see the module docstring).

    Args:
        keypoints: (P, K, 3) x, y in map cells and heatmap score (0 = missing).
        pafs: (2L, H, W) fields; limbs: (L, 2) keypoint types of each limb.
        prior: weight of a keypoint's own position per squared score, against its lines.

    Returns:
        (P, K, 3) keypoints, the same scores, positions moved.
    """
    weak = (keypoints[:, :, 2] > 0) & (keypoints[:, :, 2] < _STRONG_PEAK)
    if not weak.any():
        return keypoints
    person, limb, normal, ends, strength = _limb_lines(keypoints, pafs, limbs, weak)
    if not len(person):
        return keypoints
    num_people, num_types = keypoints.shape[:2]
    size = num_people * num_types
    # Normal equations per keypoint: the sum over its lines of w n n^T (x - q) = 0, where q is
    # a point of the line, plus the prior; (xx, xy, yy) of the 2x2 matrix, (x, y) of the right side.
    nx, ny = normal[:, 0], normal[:, 1]
    terms = np.stack([strength * nx * nx, strength * nx * ny, strength * ny * ny])
    flat = keypoints.reshape(-1, 3)
    lhs, rhs = np.zeros((3, size)), np.zeros((2, size))
    for side in (0, 1):
        index = person * num_types + limbs[limb, side]
        qx, qy = flat[index, 0] + ends[:, side] * nx, flat[index, 1] + ends[:, side] * ny
        for row, term in enumerate(terms):
            lhs[row] += np.bincount(index, term, minlength=size)
        rhs[0] += np.bincount(index, terms[0] * qx + terms[1] * qy, minlength=size)
        rhs[1] += np.bincount(index, terms[1] * qx + terms[2] * qy, minlength=size)
    moved = np.flatnonzero((lhs[0] + lhs[2] > 0) & weak.reshape(-1))
    trust = prior * flat[moved, 2] ** 2 + 1e-9
    xx, xy, yy = lhs[0, moved] + trust, lhs[1, moved], lhs[2, moved] + trust
    bx = rhs[0, moved] + trust * flat[moved, 0]
    by = rhs[1, moved] + trust * flat[moved, 1]
    det = xx * yy - xy * xy  # > 0: the prior makes the matrix positive definite
    out = flat.copy()
    out[moved, 0] = (yy * bx - xy * by) / det
    out[moved, 1] = (xx * by - xy * bx) / det
    return out.reshape(keypoints.shape)

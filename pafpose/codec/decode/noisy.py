"""The passes only noisy maps need, applied to assembled people; off on clean and real maps.

:func:`maps_are_noisy` is the gate: the fields' measured noise
(:func:`~pafpose.codec.decode.sampling.field_noise`) above ``noisy_fields`` or the heatmaps'
(:func:`~pafpose.codec.decode.peaks.noise_sigma`) above ``noisy_heatmaps``. A trained network's
maps measure about 0.001 (fields) and 0.001-0.005 (heatmaps), far under the defaults 0.005 and
0.01; on them a positive mean between two fragments is more often a neighbour's field than a
lost limb, and placement gains nothing. On noisy maps :func:`~pafpose.codec.decode.decode` runs:

- :func:`bridge_fragments`, after the fragments are merged: a short limb's field sinks to the
  noise and fails the inlier test, and its person falls apart into fragments that share no
  keypoint type; that they fit together is evidence enough for a pair between them whose mean
  projection (with the length penalty) is positive (``bridge_inlier_fraction``, 0 by default,
  replaces ``min_inlier_fraction``). Only the pairs a limb between two people that share no
  type could form are scored.
- :func:`place_on_limbs`, after the torsos are joined: a heatmap peak locates a keypoint only as
  well as the heatmap's noise allows (on a weak map about a map cell, the Cramér-Rao bound of a
  Gaussian peak of that height in that noise). A limb's field is independent evidence: a band
  whose centre line passes through both of the limb's keypoints. Each weak keypoint (peak under
  half a confidence map's full height) moves to the point that best fits the lines of its limbs
  and its own peak, each weighted by how much it can be trusted:

  - a line: fitted to the band's lateral centre (a Gaussian-windowed mean of the field's
    projection on the limb, at ``_SAMPLES_ALONG`` places along the middle of the limb) with the
    direction of the band's mean field; its weight is the band's total support (projection
    summed over the samples), so a faint or half-missing band counts for little;
  - the peak: ``placement_prior`` times its heatmap value squared (a peak's precision grows as
    the square of its height over the noise), so strong peaks hardly move while weak ones lean
    on their limbs.

  One line fixes a keypoint only across its limb (a wrist moves sideways onto its forearm, not
  along it); two limbs at an angle fix it in both directions. Limbs shorter than a cell carry no
  usable line and are skipped.

Each pass is turned off on its own by setting its parameter to None.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .assembly import Groups
from .fragments import merge_fragments
from .limbs import score_pairs
from .params import DecodeParams
from .peaks import Peaks, noise_sigma
from .sampling import fields_noisier_than, sample_fields

__all__ = ["bridge_fragments", "maps_are_noisy", "place_on_limbs"]


def maps_are_noisy(heatmaps: np.ndarray, pafs: np.ndarray, params: DecodeParams) -> bool:
    """Whether the noisy-map passes run on (K, H, W) heatmaps and (2L, H, W) fields: a pass is
    on and either kind of map is noisier than its gate."""
    if params.bridge_inlier_fraction is None and params.placement_prior is None:
        return False
    return fields_noisier_than(pafs, params.noisy_fields) or noise_sigma(heatmaps) > params.noisy_heatmaps


def bridge_fragments(groups: Groups, peaks: Peaks, pafs: np.ndarray, limbs: np.ndarray,
                     params: DecodeParams) -> Groups:
    """``groups`` with the people that share no keypoint type merged where a pair between them
    passes the relaxed test (``bridge_inlier_fraction``); see the module docstring.

    Args:
        groups: the people, fragments already merged; peaks: the candidates; pafs: (2L, H, W);
        limbs: (L, 2) keypoint types of each limb.
    """
    if params.bridge_inlier_fraction is None or not len(groups.person):
        return groups
    kind, num_types = peaks.kind, len(peaks.count)
    ends, end_person = groups.ends, groups.end_person()
    types = np.zeros((groups.num_people, num_types), dtype=bool)
    types[end_person, kind[ends]] = True
    apart = types.astype(np.int64) @ types.T.astype(np.int64) == 0  # people sharing no type
    # Every limb that could join two such people: person p's end a, person q's end b.
    p, q, limb = np.nonzero(apart[:, :, None] & types[:, None, limbs[:, 0]] & types[None, :, limbs[:, 1]])
    if not len(limb):
        return groups
    candidate = np.zeros(types.shape, dtype=np.int64)
    candidate[end_person, kind[ends]] = ends
    relaxed = replace(params, min_inlier_fraction=params.bridge_inlier_fraction)
    weak = score_pairs(peaks, pafs, limb, candidate[p, limbs[limb, 0]], candidate[q, limbs[limb, 1]], relaxed)
    if not len(weak.score):
        return groups
    return merge_fragments(groups, weak, kind, num_types)


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
    """Weak keypoints moved onto the centre lines of their limbs' fields (see the module docstring).

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

"""Stage 7: the upper and lower body of a person without any neck evidence joined.

A person whose neck left no evidence at all (no neck peak and no neck fields) falls apart into
an upper body (head, shoulders, arms) and one or two legs: in COCO-18 nothing else links
shoulders to hips. :func:`join_torsos` joins them where the geometry allows.
"""

from __future__ import annotations

import numpy as np

from ..skeleton import Skeleton
from .arrays import merge_disjoint

__all__ = ["join_torsos", "joined_torsos"]

# Torso length (shoulders to hips) over the longest limb of the two fragments: an upper arm, a
# thigh or a shin is 0.5-0.8 of a torso, an ear-shoulder limb about 0.3.
_TORSO_RANGE = (0.6, 4.0)


def join_torsos(keypoints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Which person each of P people becomes once split torsos are joined.

    An upper fragment (a shoulder, no hip, no neck) and a lower one (a hip, no shoulder,
    no neck) that share no keypoint type are joined when the hips lie below the shoulders
    (within 45 degrees of straight down) at a plausible scale: the shoulder-hip distance between
    ``_TORSO_RANGE`` times the longest limb of the two fragments. Closest pairs go first and a
    type is never taken twice, so a nearer torso claims a pair of legs before a farther one can.

    Args:
        keypoints: (P, K, 3) x, y (any unit), score (0 = missing).
        skeleton: names the shoulders, hips and neck; without shoulders or hips nothing joins.

    Returns:
        (P,) int, contiguous person labels from 0.
    """
    names = skeleton.keypoint_names
    shoulders = [names.index(n) for n in ("r_shoulder", "l_shoulder") if n in names]
    hips = [names.index(n) for n in ("r_hip", "l_hip") if n in names]
    root = np.arange(len(keypoints))
    if not shoulders or not hips or len(keypoints) < 2:
        return root
    present = keypoints[:, :, 2] > 0
    necked = present[:, names.index("neck")] if "neck" in names else np.zeros(len(root), dtype=bool)
    has_shoulder, has_hip = present[:, shoulders].any(axis=1), present[:, hips].any(axis=1)
    upper = np.flatnonzero(has_shoulder & ~has_hip & ~necked)
    lower = np.flatnonzero(has_hip & ~has_shoulder & ~necked)
    if not len(upper) or not len(lower):
        return root

    def centre(people: np.ndarray, types: list[int]) -> np.ndarray:  # (n, 2) mean of those present
        weight = present[people][:, types]
        return (keypoints[people][:, types, :2] * weight[:, :, None]).sum(axis=1) / weight.sum(axis=1)[:, None]

    limbs = np.asarray(skeleton.limbs, dtype=np.int64).reshape(-1, 2)
    ends = keypoints[:, limbs, :2]  # (P, L, 2, 2)
    length = np.where(present[:, limbs].all(axis=2), np.hypot(*(ends[:, :, 1] - ends[:, :, 0]).transpose(2, 0, 1)), 0.0)
    longest = length.max(axis=1)
    gap = centre(lower, hips)[None] - centre(upper, shoulders)[:, None]  # (U, D, 2)
    distance = np.hypot(gap[..., 0], gap[..., 1])
    scale = np.maximum(longest[upper][:, None], longest[lower][None])
    plausible = ((gap[..., 1] > 0) & (np.abs(gap[..., 0]) <= gap[..., 1])
                 & (distance >= _TORSO_RANGE[0] * scale) & (distance <= _TORSO_RANGE[1] * scale)
                 & ~(present[upper][:, None] & present[lower][None]).any(axis=2))
    pair_u, pair_d = np.nonzero(plausible)
    order = np.argsort(distance[pair_u, pair_d], kind="stable")
    root, _ = merge_disjoint(present, upper[pair_u[order]], lower[pair_d[order]])
    return np.unique(root, return_inverse=True)[1]


def joined_torsos(keypoints: np.ndarray, limb_total: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(P', K, 3) keypoints and (P',) limb totals of the people once split torsos are joined."""
    person = join_torsos(keypoints, skeleton)
    joined = np.zeros((person.max(initial=-1) + 1,) + keypoints.shape[1:])
    np.add.at(joined, person, keypoints)  # the people joined share no keypoint type
    return joined, np.bincount(person, weights=limb_total, minlength=len(joined))

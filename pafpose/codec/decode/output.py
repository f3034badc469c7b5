"""Stages 8 and 9: keypoints in input pixels, and weak people filtered out.

People with fewer than ``min_parts`` keypoints, or whose mean score per keypoint (sum of
keypoint scores + sum of limb scores, over the number of keypoints: the original's test) is below
``min_score`` times the image's typical keypoint plus limb score, are dropped. The ranking score
``Person.score`` is by default the sum itself (``person_score="total"``), which ranks complete
people above fragments of equal quality: on ground-truth maps of busy synthetic scenes, where
overlapping limbs split some people into fragments, it gives COCO AP 0.860 against 0.823 for the
per-keypoint mean (``person_score="mean"``, the original's value), and the same on the real
COCO samples.
"""

from __future__ import annotations

import numpy as np

from ..people import Person
from ..spec import HeadSpec
from .arrays import median
from .params import DecodeParams

__all__ = ["people_kept"]


def people_kept(keypoints: np.ndarray, limb_total: np.ndarray, keypoint_scores: np.ndarray,
                limb_scores: np.ndarray, head: HeadSpec, params: DecodeParams) -> list[Person]:
    """The people worth keeping, best first, keypoints in input pixels.

    Args:
        keypoints: (P, K, 3) x, y in map cells and score (0 = missing); limb_total: (P,).
        keypoint_scores, limb_scores: every keypoint and limb assembled, whose medians are the
            image's typical keypoint and limb (a weak map makes every person weak, and the few
            strong spurious peaks and limbs do not move a median).
        head: the maps' geometry.
    """
    found = keypoints[:, :, 2] > 0
    keypoints[:, :, :2] = np.where(found[:, :, None], head.cells_to_pixels(keypoints[:, :, :2]), 0.0)
    parts = np.count_nonzero(found, axis=1)
    total = keypoints[:, :, 2].sum(axis=1) + limb_total
    mean = total / np.maximum(parts, 1)
    score = total if params.person_score == "total" else mean
    typical = median(keypoint_scores) + median(limb_scores)
    good = np.flatnonzero((parts >= params.min_parts) & (mean >= params.min_score * typical))
    good = good[np.argsort(-score[good], kind="stable")]
    return [Person(keypoints=keypoints[p], score=float(score[p])) for p in good]

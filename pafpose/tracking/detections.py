"""One frame's detections as the tracker sees them: keypoints in the scene's coordinates, and
the evidence about who they are (limb ratios, clothing colours, crowding), computed when first
asked for."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..codec.people import Person
from ..errors import UserError
from .similarity import limb_ratios, clothing_histograms

__all__ = ["Detections"]


class Detections:
    """One frame's detections as arrays, with their evidence computed when first asked for."""

    def __init__(self, people: Sequence[Person], k: int, min_confidence: float, image, skeleton,
                 camera: np.ndarray, sizeable: int):
        kp = np.stack([np.asarray(p.keypoints, np.float64) for p in people]) if people else np.zeros((0, k, 3))
        if kp.shape[1] != k:
            raise UserError(f"people with {kp.shape[1]} keypoints given to a tracker of {k}-keypoint people")
        finite = np.isfinite(kp).all(axis=-1)  # NaN or inf keypoints from an outside detector: missing
        self.seen = finite & (np.nan_to_num(kp[..., 2], nan=-np.inf) > min_confidence)
        self.image_xy = np.where(self.seen[..., None], kp[..., :2], 0.0)
        # Where people stand in the scene: the camera's motion (pan, shake) since the first frame
        # taken out, so a lost person is predicted where they stand, not where they were drawn.
        self.xy = np.where(self.seen[..., None], self.image_xy - camera, 0.0)
        self.image, self.skeleton = image, skeleton
        self.sizeable = self.seen.sum(axis=1) >= sizeable  # more than a sliver of a person
        self._ratios = self._looks = self._crowded = None

    def __len__(self) -> int:
        return len(self.seen)

    @property
    def ratios(self) -> np.ndarray:
        """Limb ratios; NaN for crowded people (their limbs may be someone else's)."""
        if self._ratios is None:
            self._ratios = limb_ratios(self.xy, self.seen, self.skeleton)
            self._ratios[self.crowded] = np.nan
        return self._ratios

    @property
    def crowded(self) -> np.ndarray:
        """(D,) bool: the person's keypoint box overlaps another's by over a fifth of its area
        (pieces of a crowd: its colours are mixed, its keypoints may be someone else's)."""
        if self._crowded is None:
            lo = np.where(self.seen[..., None], self.xy, np.inf).min(axis=1)
            hi = np.where(self.seen[..., None], self.xy, -np.inf).max(axis=1)
            inter = np.prod(np.clip(np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None]), 0, None), -1)
            np.fill_diagonal(inter, 0)
            area = np.prod(np.clip(hi - lo, 1, None), -1)
            self._crowded = (inter / area[:, None]).max(axis=1, initial=0) > 0.2
        return self._crowded

    @property
    def looks(self) -> np.ndarray:
        """Clothing histograms; NaN for crowded people (mixed colours), and without a frame."""
        if self._looks is None:
            self._looks = clothing_histograms(self.image, self.image_xy, self.seen, self.skeleton)
            self._looks[self.crowded] = np.nan
        return self._looks

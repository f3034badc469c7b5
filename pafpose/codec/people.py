"""The decoder's result type: one detected person."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import convert_keypoints

__all__ = ["Person"]


@dataclass
class Person:
    """A person found by :func:`pafpose.codec.decode.decode`.

    Attributes:
        keypoints: (K, 3) float array in the head's skeleton order ((18, 3) COCO-18 for the
            bundled and CMU networks): x, y in input-image pixels (pixel
            centres at integer coordinates) and the keypoint's heatmap score; a missing keypoint
            is all zeros.
        score: ranking score for COCO evaluation: by default the sum of the person's keypoint and
            limb scores (see ``person_score`` in :class:`pafpose.codec.decode.DecodeParams`).
        track_id: the person's identity over a video, set by :class:`pafpose.tracking.PoseTracker`;
            -1 (OpenPose's ``person_id``) when untracked or not yet confirmed.
        carried: None, or a (K,) bool array set by :class:`pafpose.tracking.OneEuroSmoother`:
            True where a keypoint missing in this frame was carried forward from earlier frames
            (its confidence is lowered).
    """

    keypoints: np.ndarray
    score: float
    track_id: int = -1
    carried: np.ndarray | None = None

    @property
    def num_parts(self) -> int:
        return int(np.count_nonzero(self.keypoints[:, 2] > 0))

    def to_coco17(self) -> np.ndarray:
        """(17, 3) keypoints in COCO order (from a COCO-18 head the neck is dropped; a COCO-17
        head's keypoints already are)."""
        return convert_keypoints(self.keypoints, "coco17")

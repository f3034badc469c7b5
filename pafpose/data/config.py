"""Settings of the training data pipeline: crop, augmentation ranges, loss-mask rules.

What the targets look like (skeleton, stride, Gaussian and limb widths) is the model's head
(:class:`pafpose.codec.head.HeadSpec`), not data configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..codec.masks import MIN_AREA, MIN_KEYPOINTS
from ..errors import UserError


@dataclass(frozen=True)
class DataConfig:
    """Everything that decides what a training sample looks like.

    Defaults follow OpenPose's COCO training (caffe_train's ``cpm_data_transformer``).

    Attributes:
        crop_size: side of the square network input in pixels (a multiple of the head's stride).
        target_dist: height of the main person as a fraction of the crop, before ``scale_*``.
        scale_min, scale_max: random factor on that scale.
        max_rotation: rotation drawn from [-max_rotation, max_rotation] degrees.
        max_translation: the crop centre moves up to this many crop pixels from the main person.
        flip_prob: probability of a horizontal flip (with the left/right keypoint swap).
        contrast_min, contrast_max: contrast factor around mid-grey.
        max_brightness: brightness offset drawn from [-max_brightness, max_brightness] (0..255 scale).
        channel_swap_prob: probability of randomly permuting the colour channels.
        min_keypoints, min_area: a person is a "main person" (centres a training crop, and is not
            masked out) with at least this many labelled keypoints and segmentation area.
    """

    MOVED_KEYS: ClassVar[dict[str, str]] = {name: f"model.head.{name}" for name in ("stride", "sigma", "limb_width")}

    crop_size: int = 368
    target_dist: float = 0.6
    scale_min: float = 0.5
    scale_max: float = 1.1
    max_rotation: float = 45.0
    max_translation: float = 40.0
    flip_prob: float = 0.5
    contrast_min: float = 0.5
    contrast_max: float = 1.5
    max_brightness: float = 32.0
    channel_swap_prob: float = 0.5
    min_keypoints: int = MIN_KEYPOINTS
    min_area: float = MIN_AREA

    def __post_init__(self) -> None:
        if self.crop_size <= 0:
            raise UserError(f"data config: crop_size must be positive, got {self.crop_size}")
        if not 0 < self.scale_min <= self.scale_max:
            raise UserError(f"data config: need 0 < scale_min <= scale_max, got {self.scale_min}, {self.scale_max}")
        if not 0 < self.contrast_min <= self.contrast_max:
            raise UserError(f"data config: need 0 < contrast_min <= contrast_max, got "
                            f"{self.contrast_min}, {self.contrast_max}")
        for name in ("flip_prob", "channel_swap_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise UserError(f"data config: {name} must lie in [0, 1], got {getattr(self, name)}")
        if not self.target_dist > 0:
            raise UserError(f"data config: target_dist must be positive, got {self.target_dist}")

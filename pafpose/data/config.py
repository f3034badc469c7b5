"""Settings of the training data pipeline: crop, targets, augmentation ranges, loss-mask rules."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import UserError


@dataclass(frozen=True)
class DataConfig:
    """Everything that decides what a training sample looks like.

    Defaults follow OpenPose's COCO training (caffe_train's ``cpm_data_transformer``).

    Attributes:
        crop_size: side of the square network input in pixels (a multiple of ``stride``).
        stride: input pixels per map cell.
        sigma: heatmap Gaussian spread in input pixels.
        limb_width: PAF half-width in map cells.
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

    crop_size: int = 368
    stride: int = 8
    sigma: float = 7.0
    limb_width: float = 1.0
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
    min_keypoints: int = 5
    min_area: float = 32 * 32

    def __post_init__(self) -> None:
        if self.stride <= 0 or self.crop_size <= 0 or self.crop_size % self.stride:
            raise UserError(f"data config: crop_size ({self.crop_size}) must be a positive multiple "
                            f"of stride ({self.stride})")
        if not 0 < self.scale_min <= self.scale_max:
            raise UserError(f"data config: need 0 < scale_min <= scale_max, got {self.scale_min}, {self.scale_max}")
        if not 0 < self.contrast_min <= self.contrast_max:
            raise UserError(f"data config: need 0 < contrast_min <= contrast_max, got "
                            f"{self.contrast_min}, {self.contrast_max}")
        for name in ("flip_prob", "channel_swap_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise UserError(f"data config: {name} must lie in [0, 1], got {getattr(self, name)}")
        for name in ("sigma", "limb_width", "target_dist"):
            if not getattr(self, name) > 0:
                raise UserError(f"data config: {name} must be positive, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, values: dict) -> "DataConfig":
        """Build from a plain dict (a YAML section or a checkpoint); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"data config: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

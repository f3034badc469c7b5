"""Augmentation as ONE affine warp shared by image, loss mask and keypoints, then colour jitter.

The warp (OpenPose's ``cpm_data_transformer`` folded into a single 2x3 matrix) scales the main
person to ``target_dist`` of the crop height times a random factor, rotates about the person,
moves the crop centre randomly, and optionally mirrors the crop. Pixel centres sit at integer
coordinates everywhere (OpenCV's convention, and the targets' geometry), so the same matrix moves
keypoints exactly onto the warped pixels.

- Image: ``cv2.warpAffine`` bilinear, grey (128) beyond the source image.
- Loss mask: the same warp, bilinear on the 0/1 mask with 8-bit rounding, i.e. the warped mask is
  1 where the interpolated mask is >= 0.5; beyond the source image it is 0, because padding
  carries no labels (OpenPose's padded regions are masked out too).
- Keypoints: the same matrix, then for a flip :func:`pafpose.codec.skeleton.flip_keypoints` (x -> S-1-x
  and the left/right swap). Keypoints that leave the crop keep their coordinates and visibility:
  a limb that is partly outside still gets its PAF inside the crop, and the target renderers clip
  to the map.
- Colour: contrast around mid-grey and brightness (one lookup table), then a random channel
  permutation; the result is RGB float32 in [0, 1] (the model's input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..codec.skeleton import Skeleton, flip_keypoints
from .config import DataConfig

__all__ = [
    "Augmentation",
    "sample_augmentation",
    "fit_augmentation",
    "warp_image",
    "warp_mask",
    "warp_keypoints",
    "to_network_input",
]

_BGR_TO_RGB = np.array([2, 1, 0])


@dataclass(frozen=True)
class Augmentation:
    """One sample's geometric and photometric transform.

    Attributes:
        matrix: (2, 3) affine map from source-image pixels to crop pixels, before any flip.
        crop_size: side of the square crop.
        flip: mirror the crop horizontally (x -> crop_size - 1 - x) with the left/right swap.
        contrast, brightness: ``out = (in - 128) * contrast + 128 + brightness`` on 0..255 values.
        channels: order of the RGB output channels drawn from the image's RGB channels.
    """

    matrix: np.ndarray
    crop_size: int
    flip: bool = False
    contrast: float = 1.0
    brightness: float = 0.0
    channels: tuple[int, int, int] = (0, 1, 2)

    @property
    def image_matrix(self) -> np.ndarray:
        """(2, 3) source -> crop map including the flip (what the pixels are warped with)."""
        if not self.flip:
            return self.matrix
        mirrored = self.matrix.copy()
        mirrored[0] = -mirrored[0]
        mirrored[0, 2] += self.crop_size - 1
        return mirrored


def sample_augmentation(rng: np.random.Generator, cfg: DataConfig, centre: tuple[float, float],
                        person_height: float) -> Augmentation:
    """Random training transform centred on a main person.

    Args:
        centre: (x, y) of the main person (its bbox centre) in source pixels.
        person_height: the main person's bbox height in source pixels.
    """
    size = cfg.crop_size
    scale = cfg.target_dist * size / max(float(person_height), 1.0) * rng.uniform(cfg.scale_min, cfg.scale_max)
    angle = math.radians(rng.uniform(-cfg.max_rotation, cfg.max_rotation))
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    linear = np.array([[c, -s], [s, c]])
    target = (size - 1) / 2 + rng.uniform(-cfg.max_translation, cfg.max_translation, size=2)
    matrix = np.hstack([linear, (target - linear @ np.asarray(centre, dtype=np.float64))[:, None]])
    return Augmentation(
        matrix=matrix,
        crop_size=size,
        flip=bool(rng.random() < cfg.flip_prob),
        contrast=float(rng.uniform(cfg.contrast_min, cfg.contrast_max)),
        brightness=float(rng.uniform(-cfg.max_brightness, cfg.max_brightness)),
        channels=tuple(int(i) for i in rng.permutation(3)) if rng.random() < cfg.channel_swap_prob else (0, 1, 2),
    )


def fit_augmentation(image_size: tuple[int, int], crop_size: int) -> Augmentation:
    """Validation transform: scale the whole (W, H) image to fit the crop, top-left aligned.

    Pixel edges are preserved (as by ``cv2.resize``): x_crop + 0.5 = scale * (x + 0.5).
    """
    scale = crop_size / max(image_size)
    shift = 0.5 * (scale - 1)
    return Augmentation(matrix=np.array([[scale, 0.0, shift], [0.0, scale, shift]]), crop_size=crop_size)


def warp_image(image: np.ndarray, aug: Augmentation) -> np.ndarray:
    """(H, W, 3) uint8 -> (S, S, 3) uint8 crop; grey (128) beyond the source image."""
    size = aug.crop_size
    return cv2.warpAffine(image, aug.image_matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(128, 128, 128))


def warp_mask(mask: np.ndarray, aug: Augmentation) -> np.ndarray:
    """(H, W) 0/1 uint8 loss mask -> (S, S) 0/1 uint8; 0 (no loss) beyond the source image."""
    size = aug.crop_size
    return cv2.warpAffine(mask, aug.image_matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def warp_keypoints(keypoints: np.ndarray, aug: Augmentation, skeleton: str | Skeleton) -> np.ndarray:
    """(P, K, 3) keypoints of ``skeleton`` in source pixels -> crop pixels (flipped, with
    left and right swapped, if ``aug.flip``)."""
    kp = np.asarray(keypoints, dtype=np.float64).copy()
    kp[..., :2] = kp[..., :2] @ aug.matrix[:, :2].T + aug.matrix[:, 2]
    if aug.flip:
        kp = flip_keypoints(kp, aug.crop_size, skeleton)
    return kp


def to_network_input(crop: np.ndarray, aug: Augmentation | None = None) -> np.ndarray:
    """(S, S, 3) BGR uint8 crop -> (3, S, S) float32 RGB in [0, 1], colour-jittered by ``aug``."""
    if aug is not None and (aug.contrast != 1.0 or aug.brightness != 0.0):
        lut = np.clip((np.arange(256) - 128.0) * aug.contrast + 128.0 + aug.brightness, 0, 255)
        crop = cv2.LUT(crop, lut.astype(np.uint8))
    order = _BGR_TO_RGB if aug is None else _BGR_TO_RGB[list(aug.channels)]
    planar = crop.transpose(2, 0, 1)[order]  # one gather: channel reorder + HWC -> CHW
    return np.multiply(planar, np.float32(1 / 255), dtype=np.float32)

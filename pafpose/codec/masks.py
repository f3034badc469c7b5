"""Loss masks W(p): where the training loss is switched off because labels are missing.

OpenPose zeroes the loss over image regions whose people are not (fully) labelled, so that the
network is not punished for detecting them:

(a) people with fewer than ``min_keypoints`` labelled keypoints or a segmentation area below
    ``min_area`` (COCO's small people are only partly annotated);
(b) crowd regions (``iscrowd=1``);
(c) segmented people without any keypoint annotation (a special case of (a), kept explicit).

Regions come from the annotations' segmentation (polygons or RLE, decoded by pycocotools); an
annotation without a segmentation falls back to its bounding box.

Map resolution: cell (i, j) covers input pixels [i*s, (i+1)*s) x [j*s, (j+1)*s) (the footprint
whose centre is the cell centre of :mod:`pafpose.codec.targets`). The cell is masked out when MORE than
half of that footprint is masked; pixels beyond the image border (the last partial row/column
of cells) count as unmasked, so a cell is never masked by pixels that do not exist.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

from .spec import map_size_for

__all__ = ["loss_mask", "mask_to_map", "is_fully_labelled", "MIN_KEYPOINTS", "MIN_AREA"]

#: OpenPose's rule for a fully labelled person: this many labelled keypoints and this many pixels
#: of segmentation (the defaults of :class:`pafpose.data.config.DataConfig` too).
MIN_KEYPOINTS = 5
MIN_AREA = 32.0 * 32.0


def is_fully_labelled(annotation: dict, min_keypoints: int = MIN_KEYPOINTS, min_area: float = MIN_AREA) -> bool:
    """Whether a person annotation is labelled well enough to train on (and to leave unmasked).

    Args:
        annotation (dict): one COCO person annotation (``iscrowd``, ``num_keypoints``, ``area``).
        min_keypoints (int): fewest labelled keypoints.
        min_area (float): smallest segmentation area, in pixels.
    """
    return (
        not annotation.get("iscrowd", 0)
        and annotation.get("num_keypoints", 0) >= min_keypoints
        and annotation.get("area", 0.0) >= min_area
    )


def _region(annotation: dict, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 footprint of one annotation."""
    segmentation = annotation.get("segmentation")
    if segmentation:
        if isinstance(segmentation, list):  # polygons
            polygons = [p for p in segmentation if len(p) >= 6]
            if not polygons:
                return _box(annotation, height, width)
            rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
        elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE
            rle = mask_utils.frPyObjects(segmentation, height, width)
        else:
            rle = segmentation
        return mask_utils.decode(rle)
    return _box(annotation, height, width)


def _box(annotation: dict, height: int, width: int) -> np.ndarray:
    region = np.zeros((height, width), dtype=np.uint8)
    bbox = annotation.get("bbox")
    if bbox:
        x, y, w, h = bbox
        x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
        x1, y1 = min(int(np.ceil(x + w)), width), min(int(np.ceil(y + h)), height)
        region[y0:y1, x0:x1] = 1
    return region


def loss_mask(annotations: list[dict], height: int, width: int, min_keypoints: int = MIN_KEYPOINTS,
              min_area: float = MIN_AREA) -> np.ndarray:
    """W(p) at input resolution.

    Args:
        annotations (list[dict]): COCO person annotations of one image (crowd ones included).
        height (int), width (int): image size H, W in pixels.
        min_keypoints (int), min_area (float): see :func:`is_fully_labelled`.

    Returns:
        np.ndarray: (H, W) uint8, 1 where the loss counts, 0 over crowd regions and
        under-labelled people.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got height={height}, width={width}")
    keep = np.ones((height, width), dtype=np.uint8)
    for annotation in annotations:
        if not is_fully_labelled(annotation, min_keypoints, min_area):
            keep[_region(annotation, height, width) > 0] = 0
    return keep


def mask_to_map(mask: np.ndarray, stride: int) -> np.ndarray:
    """Input-resolution mask -> map-resolution mask.

    A cell is 0 when more than half of its stride x stride footprint is masked (see module doc).

    Args:
        mask (np.ndarray): (H, W) input-resolution mask, 1 (nonzero) = keep.
        stride (int): input pixels per map cell, s.

    Returns:
        np.ndarray: (ceil(H/s), ceil(W/s)) float32, 1 = keep, 0 = masked.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {mask.shape}")
    if stride <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    h, w = mask.shape
    wm, hm = map_size_for((w, h), stride)
    masked = np.zeros((hm * stride, wm * stride), dtype=np.float32)
    masked[:h, :w] = mask == 0
    fraction = masked.reshape(hm, stride, wm, stride).mean(axis=(1, 3))
    return (fraction <= 0.5).astype(np.float32)

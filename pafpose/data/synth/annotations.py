"""COCO annotations of the synthetic scenes: keypoint visibility, segmentation outlines and RLEs.

Annotations follow COCO: 17 keypoints with v=2 visible, v=1 occluded (the pixel is covered by
another part or person) and v=0 outside the image or turned away; the segmentation is the outline
of the union of the figure's parts inside the image (its full, amodal extent: parts hidden behind
other people are included), traced and simplified to ~1 pixel like annotators' polygons; area and
bbox are those of that segmentation. Each scene may also hold a crowd (a cluster of small
figures annotated as one iscrowd=1 region, uncompressed RLE) and unannotated people (segmentation
only, num_keypoints=0), which the loss masks switch off.
"""

from __future__ import annotations

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ...codec.skeleton import COCO17
from .figures import OWNER_TABLE, PARTS_PER_PERSON, Figure

__all__ = ["COCO_CATEGORY", "region_rle", "outline", "uncompressed_rle", "keypoint_visibility", "annotation"]

#: The COCO person category with its keypoint names and (1-based) skeleton, as in COCO files.
COCO_CATEGORY = {
    "supercategory": "person",
    "id": 1,
    "name": "person",
    "keypoints": [n.replace("l_", "left_").replace("r_", "right_") for n in COCO17.keypoint_names],
    "skeleton": [[a + 1, b + 1] for a, b in COCO17.limbs],
}


def region_rle(polygons: list, h: int, w: int) -> dict:
    return mask_utils.merge(mask_utils.frPyObjects([p.reshape(-1).tolist() for p in polygons], h, w))


def outline(region: np.ndarray) -> list[list[float]]:
    """COCO polygons tracing the outer boundary of an (H, W) 0/1 region, simplified to ~1 pixel.

    Like annotators' outlines: compact (tens of vertices per person rather than the hundreds of
    all part polygons), which keeps annotation files small and fast to parse.
    """
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        points = cv2.approxPolyDP(contour, 1.0, True).reshape(-1, 2)
        if len(points) >= 3:
            polygons.append(points.astype(float).reshape(-1).tolist())
    return polygons


def uncompressed_rle(binary: np.ndarray) -> dict:
    """COCO uncompressed RLE (column-major run lengths, starting with zeros) of an (H, W) mask."""
    flat = np.asfortranarray(binary).reshape(-1, order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"counts": counts, "size": list(binary.shape)}


def keypoint_visibility(figure: Figure, labels: np.ndarray, person: int, w: int, h: int) -> np.ndarray:
    """(17, 3) COCO keypoints: v=0 outside the image or turned away, 1 occluded, 2 visible."""
    xy = figure.keypoints
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
    col = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
    row = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
    top = labels[row, col].astype(np.int64) - 1
    own = (top // PARTS_PER_PERSON == person) & OWNER_TABLE[np.arange(17), np.clip(top % PARTS_PER_PERSON, 0, 9)]
    v = np.where(own & ~figure.hidden, 2, 1)
    v = np.where(inside & figure.labelled, v, 0)
    out = np.zeros((17, 3))
    out[:, :2] = np.where(v[:, None] > 0, np.round(xy, 2), 0)
    out[:, 2] = v
    return out


def annotation(keypoints: np.ndarray, segmentation, rle_or_mask, iscrowd: int) -> dict:
    if isinstance(rle_or_mask, np.ndarray):
        rle_or_mask = mask_utils.encode(np.asfortranarray(rle_or_mask))
    return {
        "category_id": 1,
        "iscrowd": iscrowd,
        "keypoints": [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(keypoints.reshape(-1))],
        "num_keypoints": int(np.count_nonzero(keypoints[:, 2] > 0)),
        "segmentation": segmentation,
        "area": float(mask_utils.area(rle_or_mask)),
        "bbox": [round(float(v), 2) for v in mask_utils.toBbox(rle_or_mask)],
    }

"""Drawing people, heatmaps and PAFs on images, in OpenPose's colours.

Limb l is drawn in OpenPose's colour l as a filled ellipse between its keypoints, keypoints as
dots in their own colour. Confidence scales each limb's opacity and width, so uncertain limbs
fade out instead of cluttering the picture. The two ear-to-shoulder limbs (17, 18), which exist
only to make the grouping robust, are skipped as OpenPose does.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .skeleton import COCO18

__all__ = ["LIMB_COLOURS", "draw_people", "heatmap_overlay", "paf_overlay", "mask_overlay"]

#: OpenPose's BGR colours for COCO-18 keypoint k and limb l (the same table indexes both).
LIMB_COLOURS = np.array([
    [255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0],
    [0, 255, 0], [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255],
    [0, 0, 255], [85, 0, 255], [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85],
], dtype=np.uint8)

#: Limbs drawn: all but the ear-shoulder helpers 17 and 18.
DRAWN_LIMBS = tuple(range(17))


def draw_people(image: np.ndarray, people: Sequence, min_score: float = 0.05,
                thickness: float | None = None) -> np.ndarray:
    """A copy of the (H, W, 3) BGR uint8 image with each person's skeleton blended on top.

    Args:
        people: objects with ``keypoints`` (18, 3) x, y, confidence in image pixels.
        min_score: keypoints below this confidence are not drawn.
        thickness: limb half-width in pixels at full confidence (default: scales with image size).
    """
    height, width = image.shape[:2]
    base = thickness if thickness is not None else max(2.0, 4.0 * max(height, width) / 656)
    colour = np.zeros_like(image)
    alpha = np.zeros((height, width), dtype=np.float32)
    shapes = []  # (confidence, kind, geometry, colour index); drawn least confident first
    for person in people:
        kp = np.asarray(person.keypoints, dtype=np.float64)
        for limb in DRAWN_LIMBS:
            a, b = COCO18.limbs[limb]
            conf = min(float(kp[a, 2]), float(kp[b, 2]), 1.0)
            if conf >= min_score:
                shapes.append((conf, 0, (kp[a, :2], kp[b, :2]), limb))
        for k in np.nonzero(kp[:, 2] >= min_score)[0]:
            shapes.append((min(float(kp[k, 2]), 1.0), 1, kp[k, :2], k))
    # Overlaps go to the more confident shape, and dots go on top of limbs.
    for conf, kind, geometry, index in sorted(shapes, key=lambda s: (s[1], s[0])):
        bgr = LIMB_COLOURS[index].tolist()
        if kind == 0:
            (x1, y1), (x2, y2) = geometry
            centre = (int(round((x1 + x2) / 2)), int(round((y1 + y2) / 2)))
            length = int(round(np.hypot(x2 - x1, y2 - y1) / 2))
            angle = int(round(np.degrees(np.arctan2(y2 - y1, x2 - x1))))
            half_width = max(1, int(round(base * (0.5 + 0.5 * conf))))
            polygon = cv2.ellipse2Poly(centre, (length, half_width), angle, 0, 360, 1)
            cv2.fillConvexPoly(colour, polygon, bgr, lineType=cv2.LINE_AA)
            cv2.fillConvexPoly(alpha, polygon, 0.4 + 0.5 * conf)
        else:
            centre = (int(round(geometry[0])), int(round(geometry[1])))
            radius = max(1, int(round(base)))
            cv2.circle(colour, centre, radius, bgr, -1, cv2.LINE_AA)
            cv2.circle(alpha, centre, radius, 0.6 + 0.4 * conf, -1)
    a = alpha[..., None]
    return (image * (1.0 - a) + colour * a).round().astype(np.uint8)


def heatmap_overlay(image: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Image (H, W, 3) BGR with the max over keypoint channels of (K, h, w) maps blended on top."""
    peak = cv2.resize(heatmaps.max(axis=0), image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap((np.clip(peak, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = np.clip(peak, 0, 1)[..., None] * 0.7
    return (image * (1 - alpha) + colour * alpha).astype(np.uint8)


def paf_overlay(image: np.ndarray, pafs: np.ndarray) -> np.ndarray:
    """Image with the PAFs drawn as colour = direction (hue), opacity = magnitude."""
    x, y = pafs[0::2].sum(axis=0), pafs[1::2].sum(axis=0)
    magnitude = np.clip(np.hypot(x, y), 0, 1)
    hue = ((np.arctan2(y, x) + np.pi) / (2 * np.pi) * 179).astype(np.uint8)
    hsv = np.stack([hue, np.full_like(hue, 255), np.full_like(hue, 255)], axis=-1)
    colour = cv2.resize(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR), image.shape[1::-1],
                        interpolation=cv2.INTER_NEAREST)
    alpha = cv2.resize(magnitude, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)[..., None] * 0.8
    return (image * (1 - alpha) + colour * alpha).astype(np.uint8)


def mask_overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Image darkened and tinted red where the (h, w) map mask is 0."""
    keep = cv2.resize(mask, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)[..., None]
    tinted = (image * 0.35 + np.array([0, 0, 160]) * 0.65).astype(np.uint8)
    return np.where(keep > 0, image, tinted).astype(np.uint8)

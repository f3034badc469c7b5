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

from ..codec.skeleton import COCO18, convert_keypoints

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
                thickness: float | None = None, opacity: float = 1.0) -> np.ndarray:
    """A copy of the (H, W, 3) BGR uint8 image with each person's skeleton blended on top.

    Args:
        people: objects with ``keypoints`` (18, 3) COCO-18 (or (17, 3) COCO) x, y, confidence in
            image pixels.
        min_score: keypoints below this confidence are not drawn.
        thickness: limb half-width in pixels at full confidence (default: scales with image size).
        opacity: multiplies every shape's opacity (1: limbs 0.4-0.9 and dots 0.6-1.0 by confidence).

    Memory stays near one copy of the image: the shapes are drawn on uint8 layers covering only
    their bounding box, and blended in integer arithmetic a band of rows at a time (float layers
    over a 10000 x 10000 photo took gigabytes).
    """
    height, width = image.shape[:2]
    out = image.copy()
    base = thickness if thickness is not None else max(2.0, 4.0 * max(height, width) / 656)
    shapes = []  # (confidence, kind, geometry, colour index); drawn least confident first
    for person in people:
        kp = convert_keypoints(person.keypoints, COCO18)  # OpenPose's limbs and colours
        for limb in DRAWN_LIMBS:
            a, b = COCO18.limbs[limb]
            conf = min(float(kp[a, 2]), float(kp[b, 2]), 1.0)
            if conf >= min_score:
                shapes.append((conf, 0, (kp[a, :2], kp[b, :2]), limb))
        for k in np.nonzero(kp[:, 2] >= min_score)[0]:
            shapes.append((min(float(kp[k, 2]), 1.0), 1, kp[k, :2], k))
    if not shapes or opacity <= 0:
        return out
    radius = max(1, int(round(base)))
    points = np.concatenate([np.reshape(geometry, (-1, 2)) for _, _, geometry, _ in shapes])
    margin = radius + 2  # the widest limb is 1.0 * base wide, a dot ``radius``; +2 for antialiasing
    x0, y0 = np.clip(np.floor(points.min(axis=0)).astype(int) - margin, 0, (width, height))
    x1, y1 = np.clip(np.ceil(points.max(axis=0)).astype(int) + margin + 1, 0, (width, height))
    if x0 >= x1 or y0 >= y1:
        return out
    colour = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    alpha = np.zeros((y1 - y0, x1 - x0), np.uint8)  # opacity x 255
    shift = np.array([x0, y0])
    # Overlaps go to the more confident shape, and dots go on top of limbs.
    for conf, kind, geometry, index in sorted(shapes, key=lambda s: (s[1], s[0])):
        bgr = LIMB_COLOURS[index].tolist()
        if kind == 0:
            (x1_, y1_), (x2_, y2_) = np.asarray(geometry) - shift
            centre = (int(round((x1_ + x2_) / 2)), int(round((y1_ + y2_) / 2)))
            length = int(round(np.hypot(x2_ - x1_, y2_ - y1_) / 2))
            angle = int(round(np.degrees(np.arctan2(y2_ - y1_, x2_ - x1_))))
            half_width = max(1, int(round(base * (0.5 + 0.5 * conf))))
            polygon = cv2.ellipse2Poly(centre, (length, half_width), angle, 0, 360, 1)
            cv2.fillConvexPoly(colour, polygon, bgr, lineType=cv2.LINE_AA)
            cv2.fillConvexPoly(alpha, polygon, round(255 * opacity * (0.4 + 0.5 * conf)))
        else:
            centre = tuple(int(round(v)) for v in np.asarray(geometry) - shift)
            cv2.circle(colour, centre, radius, bgr, -1, cv2.LINE_AA)
            cv2.circle(alpha, centre, radius, round(255 * opacity * (0.6 + 0.4 * conf)), -1)
    box = out[y0:y1, x0:x1]
    rows = max(1, (1 << 22) // (x1 - x0))  # bands of ~4 M pixels bound the uint16 temporaries
    for top in range(0, y1 - y0, rows):
        a = alpha[top:top + rows, :, None].astype(np.uint16)
        band = box[top:top + rows]
        band[:] = (band * (255 - a) + colour[top:top + rows] * a + 127) // 255  # <= 255 * 255 + 127
    return out


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

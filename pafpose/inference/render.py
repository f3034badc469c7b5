"""Drawing people, heatmaps and PAFs on images, in OpenPose's colours.

What is drawn belongs to the person's skeleton (:mod:`pafpose.codec.skeleton`, told apart by
the number of keypoints): its limbs less its hidden ones (OpenPose skips the ear-shoulder
limbs, which exist only to make the grouping robust), in its colours (OpenPose's for COCO-18;
a COCO-17 head draws its own limbs, with no neck). Styles:

- ``"openpose"``: limb l as a filled ellipse between its keypoints in colour l, keypoints as
  dots in their own colour; confidence scales each limb's opacity and width, so uncertain limbs
  fade out instead of cluttering the picture.
- ``"track"``: the same shapes, each person in one colour chosen by its ``track_id``, with the
  id written above its head (untracked people, id -1, keep OpenPose's colours and no label).
- ``"controlnet"``: ControlNet's OpenPose conditioning image: skeletons on a black canvas of the
  image's size, limbs at 0.6 of the colour under keypoint dots at full colour, no confidence
  fading. ControlNet's annotator draws OpenPose's table into an RGB canvas, so its colours are
  the table's read as RGB (the neck-to-right-shoulder limb is red), not the BGR of the other
  styles; this style matches ControlNet's.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..codec.skeleton import skeleton_of

__all__ = ["STYLES", "track_colour", "draw_people", "heatmap_overlay", "paf_overlay", "mask_overlay"]

#: The ``style`` values of :func:`draw_people`.
STYLES = ("openpose", "track", "controlnet")

#: ControlNet's annotator: limbs 4 pixels half-wide at 0.6 of their colour, dots of radius 4.
_CONTROLNET_WIDTH = 4
_CONTROLNET_LIMB_SHADE = 0.6


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A saturated BGR colour for a track id; consecutive ids get distant hues (golden ratio)."""
    hue = int((track_id * 0.618033988749895) % 1.0 * 180)
    hsv = np.array([[[hue, 220, 255]]], np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def draw_people(image: np.ndarray, people: Sequence, min_score: float = 0.05,
                thickness: float | None = None, opacity: float = 1.0,
                style: str = "openpose") -> np.ndarray:
    """A copy of the (H, W, 3) BGR uint8 image with each person's skeleton blended on top
    (``style="controlnet"``: a black (H, W, 3) image with the skeletons; see the module docstring).

    Args:
        people: objects with ``keypoints`` (K, 3) x, y, confidence in image pixels (K = 18:
            COCO-18, 17: COCO-17) and, for the "track" style, ``track_id``.
        min_score: keypoints below this confidence are not drawn.
        thickness: limb half-width in pixels at full confidence (default: scales with image
            size; ControlNet's 4 for the "controlnet" style).
        opacity: multiplies every shape's opacity (1: limbs 0.4-0.9 and dots 0.6-1.0 by
            confidence); ignored by the "controlnet" style.
        style: one of :data:`STYLES`.

    Memory stays near one copy of the image: the shapes are drawn on uint8 layers covering only
    their bounding box, and blended in integer arithmetic a band of rows at a time (float layers
    over a 10000 x 10000 photo took gigabytes).
    """
    if style not in STYLES:
        raise ValueError(f"unknown render style {style!r}; expected one of {STYLES}")
    if style == "controlnet":
        return _draw_controlnet(image.shape[:2], people, min_score,
                                _CONTROLNET_WIDTH if thickness is None else thickness)
    height, width = image.shape[:2]
    out = image.copy()
    base = thickness if thickness is not None else max(2.0, 4.0 * max(height, width) / 656)
    shapes = []  # (confidence, kind, geometry, BGR colour); drawn least confident first
    labels = []  # (track id, top-centre of the person)
    for person in people:
        kp = np.asarray(person.keypoints, dtype=np.float64)
        sk = skeleton_of(kp)
        track_id = int(getattr(person, "track_id", -1))
        one_colour = track_colour(track_id) if style == "track" and track_id >= 0 else None
        for limb in sk.drawn_limbs:
            a, b = sk.limbs[limb]
            conf = min(float(kp[a, 2]), float(kp[b, 2]), 1.0)
            if conf >= min_score:
                shapes.append((conf, 0, (kp[a, :2], kp[b, :2]), one_colour or sk.limb_colours[limb]))
        found = np.nonzero(kp[:, 2] >= min_score)[0]
        for k in found:
            shapes.append((min(float(kp[k, 2]), 1.0), 1, kp[k, :2], one_colour or sk.keypoint_colours[k]))
        if one_colour is not None and len(found):
            labels.append((track_id, (kp[found, 0].mean(), kp[found, 1].min())))
    if shapes and opacity > 0:
        _blend_shapes(out, shapes, base, opacity)
    for track_id, (x, y) in labels:
        _label(out, str(track_id), (x, y - 2 * base), track_colour(track_id))
    return out


def _blend_shapes(out: np.ndarray, shapes: list, base: float, opacity: float) -> None:
    """Blend limbs (kind 0) and dots (kind 1) into ``out`` in place (see :func:`draw_people`)."""
    height, width = out.shape[:2]
    radius = max(1, int(round(base)))
    points = np.concatenate([np.reshape(geometry, (-1, 2)) for _, _, geometry, _ in shapes])
    margin = radius + 2  # the widest limb is 1.0 * base wide, a dot ``radius``; +2 for antialiasing
    x0, y0 = np.clip(np.floor(points.min(axis=0)).astype(int) - margin, 0, (width, height))
    x1, y1 = np.clip(np.ceil(points.max(axis=0)).astype(int) + margin + 1, 0, (width, height))
    if x0 >= x1 or y0 >= y1:
        return
    colour = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    alpha = np.zeros((y1 - y0, x1 - x0), np.uint8)  # opacity x 255
    shift = np.array([x0, y0])
    # Overlaps go to the more confident shape, and dots go on top of limbs.
    for conf, kind, geometry, bgr in sorted(shapes, key=lambda s: (s[1], s[0])):
        if kind == 0:
            polygon = _limb_polygon(*(np.asarray(geometry) - shift), base * (0.5 + 0.5 * conf))
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


def _limb_polygon(p1: np.ndarray, p2: np.ndarray, half_width: float) -> np.ndarray:
    """OpenPose's limb: the polygon of an ellipse from p1 to p2, ``half_width`` across."""
    (x1, y1), (x2, y2) = p1, p2
    centre = (int(round((x1 + x2) / 2)), int(round((y1 + y2) / 2)))
    length = int(round(np.hypot(x2 - x1, y2 - y1) / 2))
    angle = int(round(np.degrees(np.arctan2(y2 - y1, x2 - x1))))
    return cv2.ellipse2Poly(centre, (length, max(1, int(round(half_width)))), angle, 0, 360, 1)


def _label(image: np.ndarray, text: str, bottom_centre: tuple[float, float], bgr) -> None:
    """Write ``text`` centred above a point, in ``bgr`` with a dark outline (readable anywhere)."""
    scale = max(0.4, max(image.shape[:2]) / 900)
    weight = max(1, int(round(scale * 2)))
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, weight)
    x = int(np.clip(bottom_centre[0] - w / 2, 0, max(image.shape[1] - w, 0)))
    y = int(np.clip(bottom_centre[1], h, image.shape[0] - 1))
    for colour, extra in (((0, 0, 0), 2 * weight), (bgr, 0)):
        cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, weight + extra, cv2.LINE_AA)


def _draw_controlnet(size: tuple[int, int], people: Sequence, min_score: float,
                     half_width: float) -> np.ndarray:
    """(H, W, 3) black BGR canvas with ControlNet's OpenPose drawing of ``people``."""
    canvas = np.zeros((*size, 3), np.uint8)
    radius = max(1, int(round(half_width)))
    for person in people:
        kp = np.asarray(person.keypoints, dtype=np.float64)
        sk = skeleton_of(kp)
        found = kp[:, 2] >= min_score
        for limb in sk.drawn_limbs:
            a, b = sk.limbs[limb]
            if found[a] and found[b]:
                rgb = np.array(sk.limb_colours[limb]) * _CONTROLNET_LIMB_SHADE
                cv2.fillConvexPoly(canvas, _limb_polygon(kp[a, :2], kp[b, :2], half_width),
                                   rgb[::-1].round().tolist())
        for k in np.nonzero(found)[0]:
            centre = tuple(int(round(v)) for v in kp[k, :2])
            cv2.circle(canvas, centre, radius, sk.keypoint_colours[k][::-1], -1)
    return canvas


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

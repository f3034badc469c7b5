"""Drawing the synthetic scenes: textured backgrounds with clutter, figures back to front (into the
image and an occlusion label map), and a camera-like finish (blur, sensor noise, 8 bits)."""

from __future__ import annotations

import cv2
import numpy as np

from .figures import KEYPOINT, PARTS_PER_PERSON, Figure, random_colour

__all__ = ["background", "draw_figure", "camera_finish"]


def background(rng: np.random.Generator, w: int, h: int, clutter: int) -> np.ndarray:
    """(H, W, 3) float32 texture: a blend of gradient, colour clouds and stripes, plus clutter."""
    # Gradient: four random corner colours, bilinearly interpolated.
    corners = rng.uniform(0, 255, size=(2, 2, 3)).astype(np.float32)
    image = cv2.resize(corners, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.7:  # smooth colour clouds: random low-resolution noise, upsampled
        cells = int(rng.integers(2, 12))
        clouds = rng.uniform(0, 255, size=(cells, cells, 3)).astype(np.float32)
        clouds = cv2.resize(clouds, (w, h), interpolation=cv2.INTER_CUBIC)
        image = cv2.addWeighted(image, 1 - (alpha := rng.uniform(0.3, 0.9)), clouds, alpha, 0)
    if rng.random() < 0.35:  # stripes or checks
        period = rng.uniform(6, 60)
        a = rng.uniform(0, np.pi)
        x = np.arange(w, dtype=np.float32)[None, :]
        y = np.arange(h, dtype=np.float32)[:, None]
        wave = np.sin((x * np.cos(a) + y * np.sin(a)) * (2 * np.pi / period) + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.3:
            wave = wave * np.sin((y * np.cos(a) - x * np.sin(a)) * (2 * np.pi / period))
        stripe = (wave > 0).astype(np.float32) if rng.random() < 0.5 else (wave + 1) / 2
        stripe = (stripe * rng.uniform(0.2, 0.7))[..., None]
        image = image * (1 - stripe) + random_colour(rng) * stripe
    image = np.ascontiguousarray(np.clip(image, 0, 255), dtype=np.float32)
    for _ in range(int(rng.integers(0, clutter + 1))):
        _clutter_shape(rng, image, w, h)
    return image


def _clutter_shape(rng: np.random.Generator, image: np.ndarray, w: int, h: int) -> None:
    """A random rectangle, disc, line or capsule: distractors that are not people."""
    colour = tuple(float(c) for c in random_colour(rng))
    centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
    size = int(rng.uniform(0.03, 0.25) * min(w, h)) + 2
    kind = rng.integers(4)
    if kind == 0:
        cv2.rectangle(image, centre, (centre[0] + size, centre[1] + int(size * rng.uniform(0.3, 2))),
                      colour, -1)
    elif kind == 1:
        cv2.circle(image, centre, size // 2, colour, -1, cv2.LINE_AA)
    elif kind == 2:
        end = (centre[0] + int(rng.normal(0, size)), centre[1] + int(rng.normal(0, size)))
        cv2.line(image, centre, end, colour, int(rng.integers(1, 6)), cv2.LINE_AA)
    else:
        cv2.ellipse(image, centre, (size, max(size // 5, 2)), float(rng.uniform(0, 180)), 0, 360,
                    colour, -1, cv2.LINE_AA)


def draw_figure(image: np.ndarray, labels: np.ndarray, figure: Figure, person: int) -> list:
    """Draw a figure back to front into the image and the occlusion label map; return its polygons."""
    polygons = []
    order = sorted(range(len(figure.parts)), key=lambda i: figure.parts[i][0])
    for i in order:
        _, part, poly, colour = figure.parts[i]
        pts = np.round(poly * 16).astype(np.int32)[None]
        cv2.fillPoly(image, pts, tuple(float(c) for c in colour), cv2.LINE_AA, shift=4)
        cv2.polylines(image, pts, True, tuple(float(c) * 0.55 for c in colour), 1, cv2.LINE_AA, shift=4)
        cv2.fillPoly(labels, pts, person * PARTS_PER_PERSON + part + 1, cv2.LINE_8, shift=4)
        polygons.append(poly)
    for poly, colour in figure.decorations:
        pts = np.round(poly * 16).astype(np.int32)[None]
        cv2.fillPoly(image, pts, tuple(float(c) for c in colour), cv2.LINE_AA, shift=4)
    # Round joint knobs make every joint locatable without naming it.
    knob = max(1.0, 0.012 * float(np.ptp(figure.keypoints[:, 1])))
    for name in ("l_elbow", "r_elbow", "l_knee", "r_knee", "l_shoulder", "r_shoulder"):
        x, y = np.round(figure.keypoints[KEYPOINT[name]] * 16).astype(int)
        row, col = min(max(int(y) >> 4, 0), image.shape[0] - 1), min(max(int(x) >> 4, 0), image.shape[1] - 1)
        part_colour = image[row, col]
        cv2.circle(image, (int(x), int(y)), int(knob * 16), tuple(float(c) * 0.7 for c in part_colour),
                   -1, cv2.LINE_AA, shift=4)
    return polygons


def camera_finish(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Camera-like finish: slight blur and sensor noise, then 8 bits."""
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0))
    noise = rng.uniform(0, 12)  # uniform sensor noise: as good as Gaussian here, and cheaper
    if noise > 1:
        image = image + (rng.random(image.shape, dtype=np.float32) - 0.5) * noise
    return np.clip(image, 0, 255).astype(np.uint8)

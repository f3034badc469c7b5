"""Maps of known people for the decoder's tests and benchmarks: clean, and degraded like a weak network's.

A decoder is judged on ground-truth maps (rendered by :class:`~pafpose.codec.head.PafCodec`)
made harder in seeded, reproducible ways, so its accuracy can be compared level by level:

- :func:`synthetic_people`: random, non-overlapping standing people on a grid (exact counts).
- Three degradation recipes, each a dict of named levels of :class:`Degradation`:

  ``WHITE_NOISE``: a fraction of the (person, part) peaks left out of the heatmaps (their PAFs
  stay), then every channel blurred and attenuated, small spurious Gaussian blobs (sigma
  0.7-1.5 cells, height 0.1-0.5) on the heatmaps, white noise everywhere.

  ``CORRELATED_NOISE`` (with three levels between moderate and severe, so that a sudden fall
  shows as one): peaks dropped the same way, blur, attenuation, blobs of sigma 7 px and height
  U(0.2, 0.8), then spatially correlated noise (white noise smoothed by a Gaussian of 1 cell,
  rescaled to the level's standard deviation) on heatmaps and PAFs; the background channel is
  recomputed from the degraded part channels last.

  ``CORRELATED_HEATMAP_NOISE``: the correlated-noise levels with the noise on the heatmaps only
  (the fields blurred and weakened, not noisy): a network whose part maps are worse than its
  fields.

:func:`degraded_maps` applies a level of any recipe to (P, K, 3) keypoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from pafpose.codec.head import PafCodec

__all__ = ["CORRELATED_HEATMAP_NOISE", "CORRELATED_NOISE", "Degradation", "RECIPES", "WHITE_NOISE", "degraded_maps",
           "synthetic_people"]

# A standing person in COCO-18 order, in units of its height (x relative to the body centre).
_TEMPLATE = np.array([
    (0.00, 0.10), (0.00, 0.20), (-0.12, 0.21), (-0.17, 0.36), (-0.19, 0.50), (0.12, 0.21),
    (0.17, 0.36), (0.19, 0.50), (-0.07, 0.52), (-0.08, 0.74), (-0.08, 0.96), (0.07, 0.52),
    (0.08, 0.74), (0.08, 0.96), (-0.03, 0.07), (0.03, 0.07), (-0.07, 0.08), (0.07, 0.08),
])
# Keypoints whose removal cannot split a person's limb graph (ends of chains).
_LEAVES = np.array([4, 7, 10, 13, 16, 17])
_MIN_SHOULDER = 0.1  # of the height
CELL = (100, 140)  # (W, H) pixels of the grid cell that holds one person


def synthetic_people(num_people: int, rng: np.random.Generator, drop_leaves: float = 0.2,
                     cell: tuple[int, int] = CELL) -> tuple[np.ndarray, tuple[int, int]]:
    """Random, non-overlapping COCO-18 people on a grid of cells.

    Returns:
        (P, 18, 3) keypoints (x, y, v=2 or 0) in pixels and the (W, H) image size.
    """
    cols = max(1, math.ceil(math.sqrt(num_people)))
    rows = max(1, math.ceil(num_people / cols))
    slots = rng.choice(rows * cols, size=num_people, replace=False)
    keypoints = np.zeros((num_people, 18, 3))
    for p, slot in enumerate(slots):
        height = rng.uniform(0.65, 0.9) * cell[1]
        centre_x = (slot % cols + 0.5) * cell[0] + rng.uniform(-0.1, 0.1) * cell[0]
        top = (slot // cols) * cell[1] + rng.uniform(0.02, 0.98 - height / cell[1]) * cell[1]
        pose = _TEMPLATE * height + rng.normal(0.0, 0.015 * height, size=_TEMPLATE.shape)
        # PAFs cannot carry limbs much shorter than a map cell: keep the shoulders apart, as
        # a neck-shoulder limb lost would split an arm (with its ear) off as a person.
        for shoulder in (2, 5):
            offset = pose[shoulder] - pose[1]
            pose[shoulder] = pose[1] + offset * max(1.0, _MIN_SHOULDER * height / np.hypot(*offset))
        keypoints[p, :, 0] = centre_x + pose[:, 0]
        keypoints[p, :, 1] = top + pose[:, 1]
        keypoints[p, :, 2] = 2
        dropped = _LEAVES[rng.random(len(_LEAVES)) < drop_leaves]
        keypoints[p, dropped] = 0
    return keypoints, (cols * cell[0], rows * cell[1])


@dataclass(frozen=True)
class Degradation:
    """One level of a recipe.

    Attributes:
        drop: fraction of labelled (person, part) peaks left out of the heatmaps (PAFs kept).
        blur: Gaussian blur sigma in map cells, on every heatmap and PAF channel.
        gain: attenuation factor of heatmaps and PAFs.
        blobs: mean number (Poisson) of spurious heatmap blobs per 80x60 cells.
        noise: standard deviation of the noise added to heatmaps and PAFs.
        noisy_fields: False leaves the noise off the PAFs.
        recipe: "white" (blob sigma 0.7-1.5 cells, height 0.1-0.5, white noise, the background
            channel degraded with the rest) or "correlated" (blob sigma 7 px, height 0.2-0.8,
            noise smoothed by 1 cell, background recomputed last).
    """

    drop: float = 0.0
    blur: float = 0.0
    gain: float = 1.0
    blobs: float = 0.0
    noise: float = 0.0
    recipe: str = "correlated"
    noisy_fields: bool = True


def _between(a: Degradation, b: Degradation, t: float) -> Degradation:
    return replace(a, **{f: (1 - t) * getattr(a, f) + t * getattr(b, f)
                         for f in ("drop", "blur", "gain", "blobs", "noise")})


WHITE_NOISE = {name: Degradation(*values, recipe="white") for name, values in {
    "clean": (0.0, 0.0, 1.0, 0, 0.0),
    "mild": (0.02, 0.5, 0.8, 5, 0.01),
    "moderate": (0.05, 1.0, 0.6, 10, 0.02),
    "severe": (0.10, 1.5, 0.5, 20, 0.04),
}.items()}

_MODERATE, _SEVERE = Degradation(0.05, 1.0, 0.6, 10, 0.02), Degradation(0.10, 1.5, 0.5, 20, 0.04)
CORRELATED_NOISE = {
    "clean": Degradation(),
    "mild": Degradation(0.02, 0.5, 0.8, 5, 0.01),
    "moderate": _MODERATE,
    **{f"moderate+{t:.2f}": _between(_MODERATE, _SEVERE, t) for t in (0.25, 0.5, 0.75)},
    "severe": _SEVERE,
}
CORRELATED_HEATMAP_NOISE = {name: replace(level, noisy_fields=False) for name, level in CORRELATED_NOISE.items()}
RECIPES = {"white noise": WHITE_NOISE, "correlated noise": CORRELATED_NOISE,
           "correlated noise, heatmaps only": CORRELATED_HEATMAP_NOISE}


def _blurred(maps: np.ndarray, sigma: float) -> np.ndarray:
    """(C, H, W) maps blurred by a Gaussian of ``sigma`` cells (OpenCV's reflected border)."""
    c, h, w = maps.shape
    out = cv2.GaussianBlur(np.ascontiguousarray(maps.transpose(1, 2, 0)), (0, 0), sigma)
    return out.reshape(h, w, c).transpose(2, 0, 1)


def _gaussian_blobs(heatmaps: np.ndarray, count: int, sigma, height, rng: np.random.Generator) -> None:
    """Add ``count`` Gaussian blobs to random part channels of (C, H, W) ``heatmaps`` in place;
    ``sigma`` and ``height`` are callables drawing one value each from ``rng``."""
    _, h, w = heatmaps.shape
    yy, xx = np.mgrid[:h, :w]
    for _ in range(count):
        channel, cx, cy = rng.integers(18), rng.uniform(0, w), rng.uniform(0, h)
        s, a = sigma(), height()
        heatmaps[channel] += a * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s ** 2))


def _smooth_noise(shape: tuple[int, ...], std: float, rng: np.random.Generator) -> np.ndarray:
    """(C, H, W) white noise smoothed by a Gaussian of 1 cell, rescaled to ``std``: a network's
    errors are blotches about a cell wide, not independent per cell."""
    field = _blurred(rng.standard_normal(shape).astype(np.float32), 1.0)
    return field * (std / max(float(field.std()), 1e-12))


def degraded_maps(keypoints: np.ndarray, image_size: tuple[int, int], level: Degradation | str, seed: int,
                  codec: PafCodec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(K+1, H, W) heatmaps and (2L, H, W) PAFs of (P, K, 3) ``keypoints`` at a degradation level.

    Args:
        keypoints: (P, K, 3) x, y, v in pixels of an input of ``image_size`` = (W, H).
        level: a :class:`Degradation`, or a level name of :data:`WHITE_NOISE`.
        seed: seeds everything random (drops, blobs, noise).
        codec: the head the maps are rendered for (default: COCO-18, stride 8).

    Returns:
        float32 heatmaps and PAFs.
    """
    level = WHITE_NOISE[level] if isinstance(level, str) else level
    codec = codec or PafCodec()
    rng = np.random.default_rng(seed)
    shown = keypoints.copy()
    shown[(rng.random(keypoints.shape[:2]) < level.drop) & (keypoints[:, :, 2] > 0)] = 0
    heatmaps, pafs = codec.encode(shown, image_size)[0], codec.encode(keypoints, image_size)[1]
    k = codec.skeleton.num_keypoints
    if level.recipe == "correlated":
        heatmaps = heatmaps[:k]  # the background is recomputed from the degraded parts
    if level.blur:
        heatmaps, pafs = _blurred(heatmaps, level.blur), _blurred(pafs, level.blur)
    heatmaps, pafs = heatmaps * level.gain, pafs * level.gain
    h, w = heatmaps.shape[1:]
    count = rng.poisson(level.blobs * h * w / (80 * 60)) if level.blobs else 0
    if level.recipe == "white":
        _gaussian_blobs(heatmaps, count, lambda: rng.uniform(0.7, 1.5), lambda: rng.uniform(0.1, 0.5), rng)
        if level.noise:
            heatmaps = heatmaps + rng.normal(0, level.noise, heatmaps.shape)
            pafs = pafs + rng.normal(0, level.noise, pafs.shape)
        return heatmaps.astype(np.float32), pafs.astype(np.float32)
    _gaussian_blobs(heatmaps, count, lambda: 7.0 / codec.stride, lambda: rng.uniform(0.2, 0.8), rng)
    if level.noise:
        heatmaps = heatmaps + _smooth_noise(heatmaps.shape, level.noise, rng)
        if level.noisy_fields:
            pafs = pafs + _smooth_noise(pafs.shape, level.noise, rng)
    background = np.maximum(1.0 - heatmaps.max(axis=0, keepdims=True), 0.0)
    return np.concatenate([heatmaps, background]).astype(np.float32), pafs.astype(np.float32)

"""Synthetic multi-person scenes with known poses, for decoder tests and benchmarks."""

from __future__ import annotations

import math

import cv2
import numpy as np

from pafpose.codec.head import PafCodec

#: The default head (COCO-18, stride 8) all decoder tests render and decode with.
CODEC = PafCodec()

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
    """Random, non-overlapping people on a grid of cells.

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


def real_sample_maps():
    """(coco, [(image_id, heatmaps, pafs, keypoints)]): ground-truth maps of the bundled COCO photos."""
    from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco

    coco = load_coco(SAMPLE_ANNOTATIONS)
    images = []
    for image in coco.dataset["images"]:
        keypoints = CODEC.keypoints(coco.loadAnns(coco.getAnnIds(imgIds=image["id"])))
        images.append((image["id"], *CODEC.encode(keypoints, (image["width"], image["height"])), keypoints))
    return coco, images


def render_maps(keypoints: np.ndarray, image_size: tuple[int, int]):
    """Ground-truth (19, H, W) heatmaps and (38, H, W) PAFs of an image of (W, H) pixels."""
    return CODEC.encode(keypoints, image_size)


#: Degradation levels of issue 12: (fraction of peaks dropped, blur sigma in cells, gain,
#: spurious blobs per 80x60 cells, noise sigma).
LEVELS = {
    "clean": (0.0, 0.0, 1.0, 0, 0.0),
    "mild": (0.02, 0.5, 0.8, 5, 0.01),
    "moderate": (0.05, 1.0, 0.6, 10, 0.02),
    "severe": (0.10, 1.5, 0.5, 20, 0.04),
}


def degraded_maps(keypoints: np.ndarray, image_size: tuple[int, int], level: str, seed: int):
    """(19, H, W) heatmaps and (38, H, W) PAFs of (P, 18, 3) ``keypoints`` at a degradation level.

    In this order: a fraction of the (person, part) peaks left out of the heatmaps while their
    PAFs stay; both maps blurred (Gaussian, sigma in cells) and attenuated; spurious Gaussian
    blobs (sigma 0.7-1.5 cells, height 0.1-0.5, random part channel, Poisson count) added to
    the heatmaps; Gaussian noise on every channel.
    """
    drop, blur, gain, blobs, noise = LEVELS[level]
    rng = np.random.default_rng(seed)
    size = CODEC.map_size(image_size)
    shown = keypoints.copy()
    shown[(rng.random(keypoints.shape[:2]) < drop) & (keypoints[:, :, 2] > 0)] = 0
    out = []
    for maps in (CODEC.encode(shown, image_size)[0], CODEC.encode(keypoints, image_size)[1]):
        if blur:
            maps = cv2.GaussianBlur(np.ascontiguousarray(maps.transpose(1, 2, 0)), (0, 0), blur)
            maps = maps.reshape(size[1], size[0], -1).transpose(2, 0, 1)
        out.append(maps * gain)
    heatmaps, pafs = out
    h, w = heatmaps.shape[1:]
    yy, xx = np.mgrid[:h, :w]
    for _ in range(rng.poisson(blobs * h * w / (80 * 60)) if blobs else 0):
        channel, cx, cy = rng.integers(18), rng.uniform(0, w), rng.uniform(0, h)
        sigma, height = rng.uniform(0.7, 1.5), rng.uniform(0.1, 0.5)
        heatmaps[channel] += height * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2))
    if noise:
        heatmaps = heatmaps + rng.normal(0, noise, heatmaps.shape)
        pafs = pafs + rng.normal(0, noise, pafs.shape)
    return heatmaps.astype(np.float32), pafs.astype(np.float32)

"""One synthetic scene: what it may contain (:class:`SceneConfig`) and :func:`render_scene`, which
places annotated people (optionally apart), a crowd and unannotated people on a background."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils

from ...errors import UserError
from .annotations import annotation, keypoint_visibility, outline, region_rle, uncompressed_rle
from .drawing import background, camera_finish, draw_figure
from .figures import KEYPOINT, Figure, sample_figure

__all__ = ["SceneConfig", "render_scene"]


@dataclass(frozen=True)
class SceneConfig:
    """What a synthetic scene may contain.

    Attributes:
        image_size: (W, H) in pixels.
        max_people: most annotated people per image (uniform in 1..max_people; see empty_prob).
        min_height, max_height: annotated people's body height as a fraction of the image height
            (log-uniform).
        min_keypoint_area: people whose segmentation area (inside the image) is below this get no
            keypoints (num_keypoints = 0), as in COCO, where small people are not keypoint-labelled;
            the loss mask then covers them and COCO evaluation ignores them.
        max_overlap: None, or the largest fraction of an annotated person's bounding box that
            another annotated person's box may cover; a person is re-placed (up to 20 tries) and
            left out when no place is free, so busy scenes hold fewer people.
        empty_prob: probability of an image without annotated people.
        crowd_prob: probability of a crowd region (iscrowd=1) in an image.
        unannotated_prob: probability of each of up to two unannotated people.
        clutter: most background distractor shapes.
    """

    image_size: tuple[int, int] = (368, 368)
    max_people: int = 4
    min_height: float = 0.2
    max_height: float = 0.95
    min_keypoint_area: float = 32 * 32
    max_overlap: float | None = None
    empty_prob: float = 0.05
    crowd_prob: float = 0.15
    unannotated_prob: float = 0.15
    clutter: int = 8

    def __post_init__(self) -> None:
        w, h = self.image_size
        if w < 32 or h < 32:
            raise UserError(f"synthetic image size must be at least 32x32, got {w}x{h}")
        if self.max_people < 0:
            raise UserError(f"max_people must be >= 0, got {self.max_people}")
        if not 0 < self.min_height <= self.max_height:
            raise UserError(f"need 0 < min_height <= max_height, got {self.min_height}, {self.max_height}")
        if self.max_overlap is not None and not 0 <= self.max_overlap <= 1:
            raise UserError(f"max_overlap must lie in [0, 1], got {self.max_overlap}")


def _place(rng: np.random.Generator, w: int, h: int, height: float) -> np.ndarray:
    """A hip position that keeps most of a person of this height inside the image."""
    lo, hi = 0.55 * height - 0.1 * height, h - 0.45 * height + 0.1 * height
    y = rng.uniform(lo, hi) if hi > lo else h / 2
    return np.array([rng.uniform(0.05 * w, 0.95 * w), y])


_PLACEMENT_TRIES = 20


def _extent(figure: Figure) -> np.ndarray:
    """(x0, y0, x1, y1) around all of a figure's part polygons."""
    points = np.concatenate([polygon for _, _, polygon, _ in figure.parts])
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of boxes a and b over the smaller one's area."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(iw * ih / max(smaller, 1e-9))


def render_scene(rng: np.random.Generator, cfg: SceneConfig = SceneConfig()) -> tuple[np.ndarray, list[dict]]:
    """One synthetic scene.

    Returns:
        (H, W, 3) BGR uint8 image and its COCO person annotations (without "id"/"image_id"):
        keypoints (51 numbers, COCO-17), num_keypoints, iscrowd, segmentation, area, bbox,
        category_id.
    """
    w, h = cfg.image_size
    image = background(rng, w, h, cfg.clutter)
    labels = np.zeros((h, w), dtype=np.uint16)
    annotations: list[dict] = []

    if rng.random() < cfg.crowd_prob:  # a distant cluster of small figures, annotated as one region
        centre = rng.uniform([0.1 * w, 0.2 * h], [0.9 * w, 0.7 * h])
        crowd = []
        for _ in range(int(rng.integers(4, 11))):
            height = rng.uniform(0.06, 0.14) * h
            hip = centre + rng.normal(0, [0.08 * w, 0.04 * h])
            crowd.extend(draw_figure(image, labels, sample_figure(rng, hip, height), 0))
        region = mask_utils.decode(region_rle(crowd, h, w))
        if region.any():
            annotations.append(annotation(np.zeros((17, 3)), uncompressed_rle(region), region, iscrowd=1))

    if rng.random() < cfg.empty_prob or cfg.max_people == 0:
        count = 0
    else:
        count = int(rng.integers(1, cfg.max_people + 1))
    people, boxes = [], []
    for _ in range(count):
        height = float(np.exp(rng.uniform(np.log(cfg.min_height), np.log(cfg.max_height)))) * h
        for _ in range(1 if cfg.max_overlap is None else _PLACEMENT_TRIES):
            figure = sample_figure(rng, _place(rng, w, h, height), height)
            box = _extent(figure)
            if cfg.max_overlap is None or all(_overlap(box, other) <= cfg.max_overlap for other in boxes):
                people.append((figure, True))
                boxes.append(box)
                break
    for _ in range(2):
        if rng.random() < cfg.unannotated_prob:
            height = rng.uniform(0.12, 0.4) * h
            people.append((sample_figure(rng, _place(rng, w, h, height), height), False))
    # Nearer people (feet lower in the image) are drawn later.
    people.sort(key=lambda item: item[0].keypoints[[KEYPOINT["l_ankle"], KEYPOINT["r_ankle"]], 1].max())
    drawn = [(fig, annotated, draw_figure(image, labels, fig, i + 1)) for i, (fig, annotated) in enumerate(people)]

    image = camera_finish(rng, image)
    for i, (figure, annotated, polygons) in enumerate(drawn):
        segmentation = outline(mask_utils.decode(region_rle(polygons, h, w)))
        if not segmentation:  # entirely outside the image
            continue
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
        if mask_utils.area(rle) == 0:
            continue
        keypoints = np.zeros((17, 3))
        if annotated and mask_utils.area(rle) >= cfg.min_keypoint_area:
            keypoints = keypoint_visibility(figure, labels, i + 1, w, h)
        annotations.append(annotation(keypoints, segmentation, rle, iscrowd=0))
    return image, annotations

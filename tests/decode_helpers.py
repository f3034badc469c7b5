"""Ground-truth maps for decoder tests; the generators and degradations live in testkit.degrade."""

from __future__ import annotations

import numpy as np

from pafpose.codec.head import PafCodec
from testkit.degrade import degraded_maps, synthetic_people  # noqa: F401  (re-exported for the tests)

#: The default head (COCO-18, stride 8) all decoder tests render and decode with.
CODEC = PafCodec()


def real_sample_maps():
    """(coco, [(image_id, heatmaps, pafs, keypoints)]): ground-truth maps of the bundled COCO photos."""
    from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco

    coco = load_coco(SAMPLE_ANNOTATIONS)
    images = []
    for image in coco.dataset["images"]:
        keypoints = CODEC.keypoints(coco.loadAnns(coco.getAnnIds(imgIds=image["id"])))
        images.append((image["id"], *CODEC.encode(keypoints, (image["width"], image["height"])), keypoints))
    return coco, images


def render_maps(keypoints, image_size):
    """Ground-truth (19, H, W) heatmaps and (38, H, W) PAFs of an image of (W, H) pixels."""
    return CODEC.encode(keypoints, image_size)


def sample_ap(sample, **overrides) -> float:
    """COCO keypoint AP of ``decode(**overrides)`` on the maps of :func:`real_sample_maps`."""
    from pafpose.codec.decode import decode
    from pafpose.inference.evaluate import evaluate_keypoints, people_to_coco_results

    coco, images = sample
    results = []
    for image_id, heatmaps, pafs, _ in images:
        results += people_to_coco_results(decode(heatmaps, pafs, **overrides), image_id)
    return evaluate_keypoints(coco, results)["AP"]


def image_size(heatmaps) -> tuple[int, int]:
    """(W, H) input pixels of maps rendered by :data:`CODEC`."""
    return heatmaps.shape[2] * CODEC.stride, heatmaps.shape[1] * CODEC.stride


def without_a_shoulder(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The people with both shoulders, each with one of them (alternately right, left) and so
    the neck removed; (P, 18, 3) keypoints and the (P,) indices of those people."""
    both = np.flatnonzero((keypoints[:, 2, 2] > 0) & (keypoints[:, 5, 2] > 0))
    reduced = keypoints.copy()
    reduced[both, 1] = 0
    reduced[both, np.where(np.arange(len(both)) % 2, 5, 2)] = 0
    return reduced, both

"""Ground-truth maps for decoder tests; the generators and degradations live in pafpose.data.degrade."""

from __future__ import annotations

from pafpose.codec.head import PafCodec
from pafpose.data.degrade import degraded_maps, synthetic_people  # noqa: F401  (re-exported for the tests)

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

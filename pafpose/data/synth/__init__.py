"""Synthetic multi-person scenes with exact COCO keypoint annotations.

Each image is a textured background (gradients, colour clouds, stripes, clutter shapes, noise)
with 0..N articulated figures drawn back to front, each from a small 2D kinematic model.

Every image is generated from its own ``numpy`` generator seeded with (seed, image index), so a
dataset is reproducible whatever the order or number of images generated.

Modules, by job: :mod:`.figures` (the kinematic model of a person: pose, parts, head),
:mod:`.drawing` (backgrounds, figures back to front, the camera finish), :mod:`.annotations`
(keypoint visibility, segmentation outlines and RLEs, the COCO category), :mod:`.scenes`
(:class:`SceneConfig`, :func:`render_scene`: placing people, a crowd and unannotated people) and
:mod:`.dataset` (:func:`generate_dataset`, what ``pafpose synth`` writes); :mod:`.splits` holds the
scenes the bundled ``synthetic-small`` weights were made from.
"""

from __future__ import annotations

from .annotations import COCO_CATEGORY
from .dataset import SynthStats, generate_dataset
from .scenes import SceneConfig, render_scene
from .splits import SCENES, TRAIN_SCENES, VAL_SCENES

__all__ = ["SceneConfig", "SynthStats", "render_scene", "generate_dataset", "COCO_CATEGORY", "SCENES",
           "TRAIN_SCENES", "VAL_SCENES"]

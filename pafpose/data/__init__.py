"""Training data: the COCO pose dataset, its augmentation, seeded loaders and synthetic scenes.

``pafpose.data.synth`` (the scene generator) is not imported here, so loading data never pulls it in.
"""

from __future__ import annotations

from .augment import Augmentation
from .coco import CocoPoseDataset, make_loader, render_sample, seed_worker
from .config import DataConfig

__all__ = ["Augmentation", "CocoPoseDataset", "DataConfig", "make_loader", "render_sample", "seed_worker"]

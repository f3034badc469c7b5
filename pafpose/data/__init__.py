"""Training data: the COCO pose dataset, its augmentation and synthetic scenes.

``pafpose.data.synth`` (the scene generator) is not imported here, so loading data never pulls it in.
"""

from __future__ import annotations

from .augment import Augmentation
from .coco import CocoPoseDataset, render_sample
from .config import DataConfig

__all__ = ["Augmentation", "CocoPoseDataset", "DataConfig", "render_sample"]

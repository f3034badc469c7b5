"""Training: configuration, the masked L2 loss, resumable sampling, distributed set-up and the loop.

``config`` (TrainConfig, OptimConfig) ─▶ ``sampling`` (dataset and resumable seeded loader),
``distributed`` (device, process group, AMP precision, RNG state, signals), ``loss`` ─▶ ``loop``
(``train``). Validation runs :func:`pafpose.inference.evaluate.validate_coco`.
"""

from __future__ import annotations

from .config import OptimConfig, TrainConfig
from .loop import NonFiniteLoss, TrainResult, train

__all__ = ["NonFiniteLoss", "OptimConfig", "TrainConfig", "TrainResult", "train"]

"""The training configuration: the optimiser and everything else a run needs (saved in every checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..data import DataConfig
from ..errors import UserError
from ..models import ModelConfig
from .loss import LossConfig

__all__ = ["OptimConfig", "TrainConfig"]


@dataclass
class OptimConfig:
    """Adam with a step learning-rate schedule; ``grad_clip`` > 0 clips the global grad norm."""

    lr: float = 1e-4
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    lr_step: int = 20_000
    lr_gamma: float = 0.5
    grad_clip: float = 0.0


@dataclass
class TrainConfig:
    """Everything a training run needs; saved inside every checkpoint.

    Data: ``train_annotations`` lists COCO person-keypoint files (several combine, e.g. 2014
    train + val and 2017 train); ``train_images`` is one image folder or one per file (default:
    ``images/`` next to each file if present, else the file's folder).
    Validation (COCO keypoint AP on the first ``val_max_images`` images, network input height
    ``val_input_height``, default the crop size) runs every ``val_every`` iterations when
    ``val_annotations`` is set. Losses, lr, throughput and validation metrics also go to
    ``out_dir/metrics.jsonl`` (one JSON object per line) for plotting without TensorBoard. ``amp``: "auto" (bf16 on CUDA when supported,
    else fp16; off on CPU), "off", "bf16" or "fp16". ``channels_last``: None = on CUDA only.
    Initialisation: ``backbone_weights`` (a torchvision VGG-19 file, VGG networks) or
    ``init_weights`` (a pafpose checkpoint or bundled name such as ``mobilenet-thin-coco``, whose
    network must match ``model``: its weights are loaded, not its optimizer state or schedule).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train_images: list[str] = field(default_factory=list)
    train_annotations: list[str] = field(default_factory=list)
    val_images: str | None = None
    val_annotations: str | None = None
    val_every: int = 0
    val_max_images: int = 500
    val_input_height: int | None = None
    backbone_weights: str | None = None
    init_weights: str | None = None
    out_dir: str = "runs/train"
    iterations: int = 200_000
    batch_size: int = 10
    workers: int = 4
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool | None = None
    checkpoint_every: int = 1000
    keep_every: int = 20_000
    log_every: int = 20
    image_every: int = 1000
    tensorboard: bool = True
    progress: bool = True

    @property
    def validation_height(self) -> int:
        """The network input height validation runs at: ``val_input_height``, else the crop size."""
        return self.val_input_height or self.data.crop_size

    def __post_init__(self) -> None:
        if self.amp not in ("auto", "off", "bf16", "fp16"):
            raise UserError(f"train config: amp must be auto, off, bf16 or fp16, got {self.amp!r}")
        for name in ("iterations", "batch_size", "checkpoint_every", "log_every"):
            if getattr(self, name) <= 0:
                raise UserError(f"train config: {name} must be positive, got {getattr(self, name)}")
        if self.workers < 0:
            raise UserError(f"train config: workers must be >= 0, got {self.workers}")
        if self.data.crop_size % self.model.head.stride:
            raise UserError(f"train config: data.crop_size ({self.data.crop_size}) must be a multiple "
                            f"of model.head.stride ({self.model.head.stride})")

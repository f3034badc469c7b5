"""PoseNet: backbone F, then PAF stages, then heatmap stages, with deep supervision.

Input (B, 3, H, W) float32 RGB in [0, 1]; the network subtracts the ImageNet mean and divides by
the std itself, so training, inference and ONNX share one preprocessing. The head
(``ModelConfig.head``, a :class:`pafpose.codec.head.HeadSpec`) decides the outputs: h = ceil(H/s),
w = ceil(W/s) cells at its stride s, heatmaps with its skeleton's K keypoints then the background
channel, 2L PAF channels in its limb order (channel 2l = x, 2l + 1 = y of limb l); the default
COCO-18 head at stride 8 gives 19 and 38.

Architectures (``ModelConfig.arch``):

``"tpami"`` (Cao et al., TPAMI 2019, eq. 1-2): ``paf_stages`` stages predict PAFs,
``P^1 = phi(F)``, ``P^t = phi(F, P^{t-1})``; then ``heatmap_stages`` stages predict heatmaps from
the refined PAFs, ``S^{T_P+1} = rho(F, P^{T_P})``, ``S^t = rho(F, P^{T_P}, S^{t-1})``. A stage is
``stage_blocks`` blocks of three chained 3x3 convs with concatenated outputs, then two 1x1 convs.
Following CMU's released TPAMI-era models, the first stage of each kind is narrower
(``first_stage_channels`` / ``first_head_channels``: 96 / 256, later 128 / 512) and activations
are PReLU. Default 5 PAF + 1 heatmap stages, the best row of the paper's stage table.

``"cvpr2017"`` (Cao et al., CVPR 2017): 6 stages of two branches (PAFs = CMU's L1, heatmaps = L2),
stage 1 from F, stage t >= 2 from ``cat(P^{t-1}, S^{t-1}, F)`` (CMU's concat order), 7x7 convs.

Module names of the cvpr2017 layout vs. the pytorch-openpose port of CMU's COCO model
(``body_pose_model.pth``; the Caffe layer names are the same without the block prefix):

=======================================================  =========================================
pytorch-openpose                                          pafpose
=======================================================  =========================================
``model0.<name>.*`` (conv1_1 .. conv4_2, conv4_3_CPM,     ``backbone.<name>.*``
conv4_4_CPM)
``model1_1.conv5_{i}_CPM_L1.*``, i = 1..5                 ``paf_stages.0.conv{i}.*``
``model1_2.conv5_{i}_CPM_L2.*``, i = 1..5                 ``heatmap_stages.0.conv{i}.*``
``model{t}_1.Mconv{i}_stage{t}_L1.*``, t = 2..6, i = 1..7  ``paf_stages.{t-1}.conv{i}.*``
``model{t}_2.Mconv{i}_stage{t}_L2.*``, t = 2..6, i = 1..7  ``heatmap_stages.{t-1}.conv{i}.*``
=======================================================  =========================================

Two things differ besides names (see :mod:`pafpose.io.convert.caffe`): CMU's 38 PAF channels are in its
own ``mapIdx`` order, and CMU's input is ``BGR / 256 - 0.5`` rather than normalised RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from ..codec.head import HeadSpec
from ..config import from_dict
from ..errors import UserError
from .backbone import build_backbone, load_vgg19_weights
from .base import PafNetwork
from .mobilenet_thin import MobileNetThin
from .stages import TpamiStage, cvpr2017_stage, init_weights

__all__ = ["ModelConfig", "PoseNet", "build_model"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STRIDE = 8

_ARCH_DEFAULTS = {
    "tpami": dict(backbone_width=1.0, paf_stages=5, heatmap_stages=1, first_stage_channels=96,
                  stage_channels=128, first_head_channels=256, head_channels=512),
    "cvpr2017": dict(backbone_width=1.0, paf_stages=6, heatmap_stages=6, first_stage_channels=128,
                     stage_channels=128, first_head_channels=512, head_channels=128),
    # tf-pose-estimation's mobilenet_thin: MobileNet-v1 x 0.75, stages at half CMU's widths.
    "mobilenet-thin": dict(backbone_width=0.75, paf_stages=6, heatmap_stages=6,
                           first_stage_channels=64, stage_channels=64, first_head_channels=256,
                           head_channels=64),
}
#: Architectures whose every stage has both branches (so PAF and heatmap stage counts are equal).
_TWO_BRANCH = ("cvpr2017", "mobilenet-thin")


@dataclass
class ModelConfig:
    """Architecture of a pose network. Defaults: the TPAMI-2019 network (5 PAF + 1 heatmap stages).

    Attributes:
        arch: "tpami", "cvpr2017" or "mobilenet-thin" (tf-pose-estimation's network,
            :mod:`pafpose.models.mobilenet_thin`).
        head: what the outputs mean (:class:`~pafpose.codec.head.HeadSpec`): the skeleton sets
            their channels (K + 1 heatmaps, 2 x limbs PAFs); the stride must be the network's (8).
        backbone_width: multiplier on VGG-19's 64/128/256/512 channels (1.0 = ImageNet VGG-19),
            or on MobileNet-v1's 32..512 channels for mobilenet-thin (0.75).
        cpm_channels: outputs of conv4_3_CPM and conv4_4_CPM; the second is F's depth (VGG
            networks only).
        paf_stages, heatmap_stages: T_P and T_C (tpami); cvpr2017 and mobilenet-thin have both
            branches in every stage and require them equal.
        stage_blocks: three-conv blocks per tpami stage.
        first_stage_channels, stage_channels: width of every conv in the first / later stages.
        first_head_channels, head_channels: width of the 1x1 conv before the output layer.
        activation: "prelu" or "relu" in the tpami stages (the others are ReLU throughout).
        batch_norm: BatchNorm after every hidden convolution (tpami and mobilenet-thin; not in
            the papers' models, off by default; it makes compact networks train from scratch much
            faster).
        kernel_size: the large kernel of cvpr2017 stages 2+ (7).

    Fields left None take the architecture's published values: tpami VGG x 1.0, 5 + 1 stages,
    96 / 128 channels, 256 / 512 head; cvpr2017 VGG x 1.0, 6 + 6 stages, 128 / 128 channels,
    512 / 128 head; mobilenet-thin MobileNet x 0.75, 6 + 6 stages, 64 / 64 channels, 256 / 64 head.
    """

    MOVED_KEYS: ClassVar[dict[str, str]] = {"skeleton": "model.head.skeleton"}

    arch: str = "tpami"
    head: HeadSpec = field(default_factory=HeadSpec)
    backbone_width: float | None = None
    cpm_channels: tuple[int, int] = (256, 128)
    paf_stages: int | None = None
    heatmap_stages: int | None = None
    stage_blocks: int = 5
    first_stage_channels: int | None = None
    stage_channels: int | None = None
    first_head_channels: int | None = None
    head_channels: int | None = None
    activation: str = "prelu"
    batch_norm: bool = False
    kernel_size: int = 7

    def __post_init__(self) -> None:
        self.cpm_channels = tuple(int(c) for c in self.cpm_channels)
        if self.arch not in _ARCH_DEFAULTS:
            raise UserError(f"model config: unknown arch {self.arch!r} "
                            f"(choose {', '.join(repr(a) for a in _ARCH_DEFAULTS)})")
        for name, value in _ARCH_DEFAULTS[self.arch].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.arch in _TWO_BRANCH and self.paf_stages != self.heatmap_stages:
            raise UserError(f"model config: {self.arch} needs paf_stages == heatmap_stages "
                            f"(got {self.paf_stages} and {self.heatmap_stages})")
        if self.arch == "cvpr2017" and self.batch_norm:
            raise UserError("model config: batch_norm is not available for cvpr2017 (CMU's layout has none)")
        if self.activation not in ("relu", "prelu"):
            raise UserError(f"model config: unknown activation {self.activation!r} (relu or prelu)")
        positive = ("backbone_width", "paf_stages", "heatmap_stages", "stage_blocks",
                    "first_stage_channels", "stage_channels", "first_head_channels",
                    "head_channels", "kernel_size")
        for name in positive:
            if not getattr(self, name) > 0:
                raise UserError(f"model config: {name} must be positive, got {getattr(self, name)}")
        if len(self.cpm_channels) != 2 or min(self.cpm_channels) <= 0:
            raise UserError(f"model config: cpm_channels must be two positive ints, got {self.cpm_channels}")
        if self.head.stride != STRIDE:
            raise UserError(f"model config: the {self.arch} network's output stride is {STRIDE}, "
                            f"but head.stride is {self.head.stride}")


class PoseNet(PafNetwork):
    """The pose network; see the module docstring for the architectures and names."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.backbone = build_backbone(cfg.backbone_width, cfg.cpm_channels, cfg.batch_norm)
        features, n_paf, n_heat = cfg.cpm_channels[1], cfg.head.num_pafs, cfg.head.num_heatmaps
        if cfg.arch == "tpami":
            def stage(in_channels: int, out_channels: int, first: bool) -> TpamiStage:
                return TpamiStage(in_channels, out_channels,
                                  cfg.first_stage_channels if first else cfg.stage_channels,
                                  cfg.first_head_channels if first else cfg.head_channels,
                                  cfg.stage_blocks, cfg.activation, cfg.batch_norm)

            self.paf_stages = nn.ModuleList(
                stage(features + (n_paf if t else 0), n_paf, t == 0) for t in range(cfg.paf_stages))
            self.heatmap_stages = nn.ModuleList(
                stage(features + n_paf + (n_heat if t else 0), n_heat, t == 0)
                for t in range(cfg.heatmap_stages))
        else:
            def branch(out_channels: int, t: int) -> nn.Sequential:
                return cvpr2017_stage(features + (n_paf + n_heat if t else 0), out_channels, t == 0,
                                      cfg.first_stage_channels if t == 0 else cfg.stage_channels,
                                      cfg.first_head_channels, cfg.head_channels, cfg.kernel_size)

            self.paf_stages = nn.ModuleList(branch(n_paf, t) for t in range(cfg.paf_stages))
            self.heatmap_stages = nn.ModuleList(branch(n_heat, t) for t in range(cfg.heatmap_stages))
        self._init_weights()

    def _init_weights(self) -> None:
        init_weights(self, [[m for m in stage.modules() if isinstance(m, nn.Conv2d)][-1]
                            for stage in (*self.paf_stages, *self.heatmap_stages)])

    def load_backbone_weights(self, path) -> int:
        """Initialise conv1_1 .. conv4_2 from a torchvision VGG-19 state dict file."""
        return load_vgg19_weights(self.backbone, path)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise UserError(f"PoseNet expects (B, 3, H, W) RGB images in [0, 1], got shape {tuple(x.shape)}")
        return self.backbone((x - self.mean) / self.std)

    def stages(self, f: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Backbone features (B, C, h, w) -> (PAFs of every PAF stage, heatmaps of every heatmap stage)."""
        pafs: list[torch.Tensor] = []
        heatmaps: list[torch.Tensor] = []
        if self.cfg.arch == "tpami":
            for stage in self.paf_stages:
                pafs.append(stage(torch.cat((f, pafs[-1]), 1) if pafs else f))
            for stage in self.heatmap_stages:
                inputs = (f, pafs[-1], heatmaps[-1]) if heatmaps else (f, pafs[-1])
                heatmaps.append(stage(torch.cat(inputs, 1)))
        else:
            x = f
            for paf_stage, heatmap_stage in zip(self.paf_stages, self.heatmap_stages):
                pafs.append(paf_stage(x))
                heatmaps.append(heatmap_stage(x))
                x = torch.cat((pafs[-1], heatmaps[-1], f), 1)
        return pafs, heatmaps

    def infer_first_stage(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> the second stage's input: features and the first stage's maps."""
        f = self.features(x)
        if self.cfg.arch == "tpami":
            return torch.cat((f, self.paf_stages[0](f)), 1)
        return torch.cat((self.paf_stages[0](f), self.heatmap_stages[0](f), f), 1)

    def infer_later_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The second stage's input -> (heatmaps, pafs) of the last stages."""
        if self.cfg.arch == "tpami":
            f, pafs = x[:, :self.cfg.cpm_channels[1]], x[:, self.cfg.cpm_channels[1]:]
            for stage in self.paf_stages[1:]:
                pafs = stage(torch.cat((f, pafs), 1))
            heatmaps = None
            for stage in self.heatmap_stages:
                heatmaps = stage(torch.cat((f, pafs) if heatmaps is None else (f, pafs, heatmaps), 1))
            return heatmaps, pafs
        f = x[:, self.head.num_pafs + self.head.num_heatmaps:]
        for paf_stage, heatmap_stage in zip(self.paf_stages[1:], self.heatmap_stages[1:]):
            pafs, heatmaps = paf_stage(x), heatmap_stage(x)
            x = torch.cat((pafs, heatmaps, f), 1)
        return heatmaps, pafs


def build_model(cfg: ModelConfig | dict | None = None, backbone_weights=None) -> nn.Module:
    """A randomly initialised network of ``cfg.arch`` (a PoseNet, or a MobileNetThin);
    ``backbone_weights``: optional torchvision VGG-19 file (VGG networks only)."""
    if cfg is None:
        cfg = ModelConfig()
    elif isinstance(cfg, dict):
        cfg = from_dict(ModelConfig, cfg, "model config")
    if cfg.arch == "mobilenet-thin":
        if backbone_weights is not None:
            raise UserError("backbone weights are torchvision VGG-19 files; mobilenet-thin starts "
                            "from converted weights instead (--init-weights mobilenet-thin-coco)")
        return MobileNetThin(cfg)
    model = PoseNet(cfg)
    if backbone_weights is not None:
        model.load_backbone_weights(backbone_weights)
    return model

"""Refinement stages: the TPAMI-2019 stage of three-conv blocks and the CVPR-2017 7x7 stage.

Both map (B, C_in, h, w) -> (B, C_out, h, w) at the feature resolution; the last layer is a 1x1
convolution without activation (maps are regressed, and PAFs are signed).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

__all__ = ["activation", "ConvBlock", "TpamiStage", "cvpr2017_stage", "init_weights"]


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


def activation(kind: str, channels: int) -> nn.Module:
    """"relu" or "prelu" (one slope per channel, as in CMU's TPAMI-era models)."""
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "prelu":
        return nn.PReLU(channels)
    raise ValueError(f"unknown activation {kind!r} (choose 'relu' or 'prelu')")


class ConvBlock(nn.Module):
    """Three chained 3x3 convolutions whose three outputs are concatenated (TPAMI 2019, fig. 3).

    It replaces one 7x7 convolution of the CVPR-2017 stages: same receptive field, fewer
    operations, and the concatenation keeps both shallow and deep features (a DenseNet-like
    shortcut). (B, C_in, h, w) -> (B, 3 * channels, h, w).
    """

    def __init__(self, in_channels: int, channels: int, act: str, batch_norm: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.norm1 = _norm(channels, batch_norm)
        self.act1 = activation(act, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = _norm(channels, batch_norm)
        self.act2 = activation(act, channels)
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm3 = _norm(channels, batch_norm)
        self.act3 = activation(act, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.act1(self.norm1(self.conv1(x)))
        b = self.act2(self.norm2(self.conv2(a)))
        c = self.act3(self.norm3(self.conv3(b)))
        return torch.cat((a, b, c), dim=1)


class TpamiStage(nn.Module):
    """``blocks`` ConvBlocks, then 1x1 -> ``head_channels`` (+ activation), then 1x1 -> outputs.

    ``batch_norm`` adds a BatchNorm before every activation (never on the output layer)."""

    def __init__(self, in_channels: int, out_channels: int, channels: int, head_channels: int,
                 blocks: int, act: str, batch_norm: bool = False):
        super().__init__()
        layers = []
        for _ in range(blocks):
            layers.append(ConvBlock(in_channels, channels, act, batch_norm))
            in_channels = 3 * channels
        self.blocks = nn.Sequential(*layers)
        self.conv6 = nn.Conv2d(in_channels, head_channels, 1)
        self.norm6 = _norm(head_channels, batch_norm)
        self.act6 = activation(act, head_channels)
        self.conv7 = nn.Conv2d(head_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv7(self.act6(self.norm6(self.conv6(self.blocks(x)))))


def cvpr2017_stage(in_channels: int, out_channels: int, first: bool, channels: int = 128,
                   first_head_channels: int = 512, head_channels: int = 128,
                   kernel_size: int = 7) -> nn.Sequential:
    """One branch of one CVPR-2017 stage, layers named ``conv1 .. convN`` (ReLU ``reluI`` between).

    Stage 1: three 3x3 convs, a 1x1 to ``first_head_channels``, a 1x1 to the outputs (CMU's
    conv5_1_CPM .. conv5_5_CPM). Stages 2+: five ``kernel_size`` convs, a 1x1 to
    ``head_channels``, a 1x1 to the outputs (CMU's Mconv1_stageT .. Mconv7_stageT).
    """
    if first:
        spec = [(3, channels)] * 3 + [(1, first_head_channels), (1, out_channels)]
    else:
        spec = [(kernel_size, channels)] * 5 + [(1, head_channels), (1, out_channels)]
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (kernel, out) in enumerate(spec, start=1):
        layers[f"conv{i}"] = nn.Conv2d(in_channels, out, kernel, padding=kernel // 2)
        if i < len(spec):
            layers[f"relu{i}"] = nn.ReLU(inplace=True)
        in_channels = out
    return nn.Sequential(layers)


def init_weights(model: nn.Module, output_layers: list[nn.Conv2d]) -> None:
    """He initialisation of every convolution, zero biases, and small output layers.

    He initialisation keeps activations' scale through the deep ReLU stacks when training from
    scratch; the output layers start small so the initial maps (and losses) are near zero.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    for layer in output_layers:
        nn.init.normal_(layer.weight, std=0.01)

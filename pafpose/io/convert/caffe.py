"""Importing CMU's published COCO OpenPose weights (CVPR 2017 model) into pafpose.

Two sources hold the same network:

* ``pose_iter_440000.caffemodel``, the original Caffe release. It is read here by decoding the
  protobuf wire format directly (no Caffe, no protobuf schema): a NetParameter holds layers
  (field 100, LayerParameter: name = 1, blobs = 7; or the old V1 ``layers``, field 2, with
  name = 4, blobs = 6), and a BlobProto holds its shape (field 7, BlobShape.dim = 1; or the
  legacy num/channels/height/width = 1..4) and its float data (field 5).
* ``body_pose_model.pth`` of the pytorch-openpose port: a state dict whose keys are the Caffe
  layer names prefixed by their block, ``model0.conv1_1.weight`` (VGG-19 + CPM layers),
  ``model1_1.conv5_1_CPM_L1.weight`` (stage 1, PAF branch L1), ``model1_2.*_L2`` (stage 1,
  heatmap branch L2), ``model{t}_{1,2}.Mconv{1..7}_stage{t}_L{1,2}.*`` for stages t = 2..6.

Both are first brought to that pytorch-openpose naming, then mapped onto the "cvpr2017"
architecture of :mod:`pafpose.models`, with two adjustments:

* Channel order. CMU's heatmaps are already COCO-18 + background, but its 38 PAF channels are
  in the order of its ``mapIdx`` table; ours follow ``COCO18.limbs``. The PAF output layers'
  rows and the PAF part of every refinement stage's input are permuted accordingly.
* Input normalisation. CMU feeds ``BGR / 256 - 0.5``; pafpose models take RGB in [0, 1] and
  normalise with ImageNet mean/std inside. The first convolution is rewritten so it computes
  the same function on our input (channels reversed, weights scaled, bias shifted); only the
  one-pixel zero-padded border of the first layer sees a slightly different constant.

CMU's weights are licensed for non-commercial research use only (see
https://github.com/CMU-Perceptual-Computing-Lab/openpose/blob/master/LICENSE); users must obtain
them themselves and respect that licence. pafpose neither ships nor downloads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import UserError
from .protowire import fields, packed_varints

__all__ = ["CMU_PAF_ORDER", "read_cmu_weights", "parse_caffemodel", "cmu_model_config",
           "cmu_to_pafpose", "convert_cmu"]

# pytorch-openpose's mapIdx: for each limb of COCO18.limbs, the (x, y) channels of CMU's joint
# heatmap+PAF output, offset by its 19 heatmap channels.
_MAP_IDX = ((31, 32), (39, 40), (33, 34), (35, 36), (41, 42), (43, 44), (19, 20), (21, 22),
            (23, 24), (25, 26), (27, 28), (29, 30), (47, 48), (49, 50), (53, 54), (51, 52),
            (55, 56), (37, 38), (45, 46))
#: ``our_pafs = cmu_pafs[CMU_PAF_ORDER]``: our channel 2l / 2l+1 (x / y of limb l) in CMU's order.
CMU_PAF_ORDER = np.array([c - 19 for pair in _MAP_IDX for c in pair])

_BACKBONE = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
             "conv3_4", "conv4_1", "conv4_2", "conv4_3_CPM", "conv4_4_CPM")
_STAGES = 6
# CMU's pixel normalisation: x_cmu = bgr_255 / 256 - 0.5.
_CMU_SCALE, _CMU_SHIFT = 1.0 / 256.0, -0.5


def _stage_layers(stage: int, branch: int) -> list[str]:
    """Caffe layer names of one branch (1 = PAFs, 2 = heatmaps) of one stage, input to output."""
    if stage == 1:
        return [f"conv5_{i}_CPM_L{branch}" for i in range(1, 6)]
    return [f"Mconv{i}_stage{stage}_L{branch}" for i in range(1, 8)]


def _expected_layers() -> dict[str, str]:
    """Caffe layer name -> pytorch-openpose block prefix."""
    names = {name: "model0" for name in _BACKBONE}
    for stage in range(1, _STAGES + 1):
        for branch in (1, 2):
            names.update({name: f"model{stage}_{branch}" for name in _stage_layers(stage, branch)})
    return names


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def read_cmu_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """CMU COCO weights from a ``.caffemodel`` or pytorch-openpose ``.pth``, in the latter's naming."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.suffix.lower() == ".caffemodel":
        layers = parse_caffemodel(path)
        prefixes = _expected_layers()
        state = {}
        for name, blobs in layers.items():
            if name in prefixes and len(blobs) == 2:
                state[f"{prefixes[name]}.{name}.weight"] = torch.from_numpy(blobs[0])
                state[f"{prefixes[name]}.{name}.bias"] = torch.from_numpy(blobs[1])
    else:
        from ..checkpoint import load_tensor_file

        state = load_tensor_file(path, "state dict")
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise UserError(f"{path}: expected a state dict, found {type(state).__name__}")
        state = {k.removeprefix("module."): v for k, v in state.items()}
    _check_cmu_state(state, path)
    return state


def _check_cmu_state(state: dict, path: Path) -> None:
    missing = [f"{prefix}.{name}" for name, prefix in _expected_layers().items()
               if f"{prefix}.{name}.weight" not in state or f"{prefix}.{name}.bias" not in state]
    if missing:
        raise UserError(f"{path}: not CMU's COCO body model (missing {len(missing)} layers, "
                        f"e.g. {missing[0]})")
    outputs = {"model1_1.conv5_5_CPM_L1": 38, "model1_2.conv5_5_CPM_L2": 19,
               "model6_1.Mconv7_stage6_L1": 38, "model6_2.Mconv7_stage6_L2": 19}
    for name, channels in outputs.items():
        got = tuple(state[f"{name}.weight"].shape)
        if got[0] != channels:
            raise UserError(f"{path}: {name} has {got[0]} output channels, COCO needs {channels} "
                            "(is this the MPI or BODY_25 model?)")


def _parse_blob(buf: memoryview) -> np.ndarray:
    dims: list[int] = []
    legacy = {}
    chunks = []
    for number, wire, value in fields(buf):
        if number == 7:  # BlobShape
            for n, w, v in fields(value):
                if n == 1:
                    dims += packed_varints(v, w)
        elif number in (1, 2, 3, 4) and wire == 0:
            legacy[number] = value
        elif number == 5:  # float data, packed (wire 2) or one per field (wire 5)
            chunks.append(np.frombuffer(value, dtype="<f4"))
        elif number == 8:  # double_data
            chunks.append(np.frombuffer(value, dtype="<f8").astype(np.float32))
    data = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if not dims:
        num, channels, height, width = (legacy.get(i, 1) for i in (1, 2, 3, 4))
        # Legacy biases are stored as 1 x 1 x 1 x N.
        dims = [width] if (num, channels, height) == (1, 1, 1) else [num, channels, height, width]
    if int(np.prod(dims)) != data.size:
        raise ValueError(f"blob shape {dims} does not match its {data.size} values")
    return data.reshape(dims).copy()


def parse_caffemodel(path: str | Path) -> dict[str, list[np.ndarray]]:
    """Layer name -> its blobs (float32 arrays) of a binary Caffe NetParameter file."""
    path = Path(path)
    try:
        buf = memoryview(path.read_bytes())
        layers: dict[str, list[np.ndarray]] = {}
        for number, wire, value in fields(buf):
            if wire != 2 or number not in (2, 100):
                continue
            name_field, blob_field = (1, 7) if number == 100 else (4, 6)
            name, blobs = None, []
            for n, w, v in fields(value):
                if n == name_field and w == 2:
                    name = bytes(v).decode("utf-8", errors="replace")
                elif n == blob_field and w == 2:
                    blobs.append(_parse_blob(v))
            if name is not None and blobs:
                layers[name] = blobs
    except (ValueError, IndexError) as err:
        raise UserError(f"{path}: not a readable .caffemodel ({err})") from None
    if not layers:
        raise UserError(f"{path}: no layers with weights found (not a .caffemodel?)")
    return layers


# --------------------------------------------------------------------------------------------
# mapping onto pafpose's cvpr2017 layout
# --------------------------------------------------------------------------------------------


def cmu_model_config() -> dict:
    """The pafpose ModelConfig (as a dict) of CMU's COCO model."""
    from ...config import to_dict
    from ...models import ModelConfig

    return to_dict(ModelConfig(arch="cvpr2017", backbone_width=1.0, cpm_channels=(256, 128), paf_stages=6,
                       heatmap_stages=6, stage_channels=128, first_head_channels=512,
                       head_channels=128, kernel_size=7))


def _fold_cmu_normalisation(weight: torch.Tensor, bias: torch.Tensor):
    """conv1_1 on ``BGR / 256 - 0.5`` -> the same conv on ImageNet-normalised RGB.

    CMU's input channel k is ``(z[2-k] * std[2-k] + mean[2-k]) * 255/256 - 0.5`` in terms of
    our normalised RGB z, an affine map per channel that folds into the weights and bias.
    """
    from ...models.network import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64)
    w = weight.double().flip(1)  # BGR input channels -> RGB
    scale = 255.0 * _CMU_SCALE
    shift = mean * scale + _CMU_SHIFT  # CMU's value of an RGB channel where z = 0
    new_bias = bias.double() + (w * shift.view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
    new_weight = w * (std * scale).view(1, 3, 1, 1)
    return new_weight.to(weight.dtype), new_bias.to(bias.dtype)


def cmu_to_pafpose(cmu: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pytorch-openpose-named CMU weights -> a state dict of pafpose's cvpr2017 PoseNet.

    Names follow the table in :mod:`pafpose.models.network`; PAF channels are reordered with
    :data:`CMU_PAF_ORDER` wherever they are an output (the L1 branch's last layer) or an input
    (the first 38 input channels of every stage >= 2, which takes ``cat(PAFs, heatmaps, F)``).
    """
    order = torch.as_tensor(CMU_PAF_ORDER)
    state: dict[str, torch.Tensor] = {}
    for name in _BACKBONE:
        weight, bias = cmu[f"model0.{name}.weight"], cmu[f"model0.{name}.bias"]
        if name == "conv1_1":
            weight, bias = _fold_cmu_normalisation(weight, bias)
        state[f"backbone.{name}.weight"], state[f"backbone.{name}.bias"] = weight, bias
    for stage in range(1, _STAGES + 1):
        for branch, ours in ((1, "paf_stages"), (2, "heatmap_stages")):
            layers = _stage_layers(stage, branch)
            for i, layer in enumerate(layers, start=1):
                weight = cmu[f"model{stage}_{branch}.{layer}.weight"]
                bias = cmu[f"model{stage}_{branch}.{layer}.bias"]
                if i == 1 and stage > 1:
                    weight = torch.cat([weight[:, order], weight[:, len(order):]], dim=1)
                if i == len(layers) and branch == 1:
                    weight, bias = weight[order], bias[order]
                state[f"{ours}.{stage - 1}.conv{i}.weight"] = weight.contiguous()
                state[f"{ours}.{stage - 1}.conv{i}.bias"] = bias.contiguous()
    return state


def convert_cmu(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(model_config dict, state dict) of a pafpose cvpr2017 model from CMU's weight file.

    The result is checked by loading it into a freshly built model (strict), so a mismatch
    between the layouts fails here rather than when the checkpoint is used.
    """
    from ..checkpoint import build_with_weights

    config = cmu_model_config()
    state = cmu_to_pafpose(read_cmu_weights(path))
    build_with_weights(config, state, path)
    return config, state

"""ONNX export of a pose network and an onnxruntime session that the Predictor can run on.

The exported graph is ``PoseNet.infer``: input ``image`` (B, 3, H, W) float32 RGB in [0, 1]
(normalisation is inside the model), outputs ``heatmaps`` (B, K + 1, H/s, W/s) and ``pafs``
(B, 2L, H/s, W/s) for the head's K keypoints, L limbs and stride s (19 and 38 at stride 8 for
COCO-18), with batch, height and width dynamic. It uses the TorchScript-based exporter
(``dynamo=False``): it handles this plain convolutional graph in a second, with dynamic axes,
where the dynamo exporter takes far longer for the same graph.

The model's head spec (skeleton, stride, target widths; key ``pafpose.head``) and the
checkpoint's "inference" settings (e.g. the input height it was tuned for; key
``pafpose.inference``) travel in the file's metadata as JSON, so the onnx backend reads the maps
and uses the same defaults as the checkpoint it came from. Files exported before the head key
existed hold the default COCO-18 stride-8 head.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from ..codec.head import HeadSpec
from ..config import from_dict, to_dict
from ..errors import UserError
from ..extras import require
from ..io.outputs import ensure_folder

__all__ = ["export_onnx", "OnnxSession", "MethodModule"]

INPUT_NAME = "image"
OUTPUT_NAMES = ("heatmaps", "pafs")
OPSET = 17
METADATA_KEY = "pafpose.inference"
HEAD_KEY = "pafpose.head"


class MethodModule(torch.nn.Module):
    """One method of a model as ``forward``, for tracing: ``infer`` holds the last stage only,
    where ``forward`` returns every stage's maps."""

    def __init__(self, model: torch.nn.Module, method: str = "infer"):
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, x: torch.Tensor):
        return getattr(self.model, self.method)(x)


def export_onnx(model: torch.nn.Module, path: str | Path, sample_size: tuple[int, int] = (368, 368),
                opset: int = OPSET, inference: dict | None = None) -> Path:
    """Export ``model.infer`` to ``path`` with dynamic batch, height and width; returns the path.

    ``inference``: the checkpoint's recommended settings, stored in the file's metadata. The
    model is traced in eval mode (BatchNorm with its running statistics) and handed back in the
    mode and on the device it came in. The file is written to a temporary name and moved into
    place, so an interrupted export never leaves a broken ``.onnx`` behind.
    """
    onnx = require("onnx", "onnx", "ONNX export")

    path = ensure_folder(Path(path).parent) / Path(path).name
    tmp = path.with_name(f".{path.name}.tmp")
    dummy = torch.rand(1, 3, *sample_size)
    axes = {"0": "batch", "2": "height", "3": "width"}
    dynamic = {name: {int(k): v for k, v in axes.items()} for name in (INPUT_NAME, *OUTPUT_NAMES)}
    was_training = model.training
    device = next(model.parameters()).device
    # The wrapper must be in eval mode too: torch.onnx.export restores the mode of the module it
    # is given, and a fresh wrapper is in train mode, which would leave the model training.
    wrapper = MethodModule(model.cpu()).eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (dummy,), str(tmp), input_names=[INPUT_NAME],
                              output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic,
                              opset_version=opset, dynamo=False, do_constant_folding=True)
        graph = onnx.load(str(tmp))
        props = {HEAD_KEY: json.dumps(to_dict(model.head))}
        if inference:
            props[METADATA_KEY] = json.dumps(inference)
        onnx.helper.set_model_props(graph, props)
        onnx.save(graph, str(tmp))
        onnx.checker.check_model(str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
        model.to(device).train(was_training)
    return path


class OnnxSession:
    """An onnxruntime session over an exported pose model.

    Args:
        path: the ``.onnx`` file.
        device: "cpu" or "cuda[:N]"; CUDA uses onnxruntime's CUDA provider when installed.
        threads: intra-op threads (default: onnxruntime's choice).
    """

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None):
        ort = require("onnxruntime", "onnx", "the onnx backend")

        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"{self.path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            index = int(device.split(":")[1]) if ":" in device else 0
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": index}))
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types for bad files
            raise UserError(f"{self.path}: not a loadable ONNX model ({type(err).__name__})") from None
        names = [o.name for o in self.session.get_outputs()]
        if [i.name for i in self.session.get_inputs()] != [INPUT_NAME] or names != list(OUTPUT_NAMES):
            raise UserError(f"{self.path}: not a pafpose export (inputs/outputs "
                            f"{[i.name for i in self.session.get_inputs()]} -> {names})")
        metadata = self.session.get_modelmeta().custom_metadata_map
        try:
            #: The exporting checkpoint's recommended settings, e.g. {"input_height": 320}.
            self.recommended: dict = dict(json.loads(metadata.get(METADATA_KEY) or "{}"))
            head = json.loads(metadata.get(HEAD_KEY) or "{}")
        except (ValueError, TypeError):
            raise UserError(f"{self.path}: malformed pafpose metadata") from None
        #: What the outputs mean.
        self.head: HeadSpec = from_dict(HeadSpec, head, f"{self.path}: {HEAD_KEY}")

    def infer(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 3, H, W) float32 RGB in [0, 1] -> heatmaps (B, K + 1, h, w), pafs (B, 2L, h, w) of
        :attr:`head`."""
        heatmaps, pafs = self.session.run(list(OUTPUT_NAMES),
                                          {INPUT_NAME: np.ascontiguousarray(images, dtype=np.float32)})
        return heatmaps, pafs

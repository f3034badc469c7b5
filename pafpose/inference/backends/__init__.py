"""Where the network runs: torch, onnxruntime or OpenVINO, at a chosen numeric precision.

:func:`open_network` turns weights (a checkpoint path or bundled name, an ``.onnx`` file, an
:class:`~pafpose.inference.onnx_export.OnnxSession`, or a model object with ``infer``) into a
backend network (see :mod:`.networks` for the calling convention), choosing the precision with
:func:`~.capabilities.choose_precision` under the weights' recorded accuracy contract.

Module map: :mod:`.capabilities` (CPU features, precisions, ``auto``), :mod:`.networks` (torch,
onnxruntime), :mod:`.cuda_graphs` (the torch network replayed per shape on CUDA),
:mod:`.openvino` (conversion and the OpenVINO network), :mod:`.calibration` (int8),
:mod:`.cache` (converted networks on disk).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from ...codec.spec import HeadSpec
from ...errors import UserError
from ...models.base import PoseNetwork
from ..settings import InferenceSettings
from .cache import ModelCache, default_cache_dir, weights_digest
from .capabilities import (AP_TOLERANCE, BACKENDS, PRECISIONS, CpuCapabilities, choose_precision,
                           cpu_capabilities, supported_precisions)
from .networks import MIXED_BF16, OnnxNetwork, TorchNetwork
from .openvino import OpenVinoNetwork, cached_openvino, convert_to_openvino, openvino_from_onnx, openvino_installed

__all__ = ["BACKENDS", "PRECISIONS", "AP_TOLERANCE", "MIXED_BF16", "CpuCapabilities", "cpu_capabilities",
           "open_network", "TorchNetwork", "OnnxNetwork", "OpenVinoNetwork", "supported_precisions",
           "choose_precision", "convert_to_openvino", "default_cache_dir", "weights_digest", "ModelCache"]


def _default_backend(source: Any, is_onnx_file: bool, device: torch.device) -> str:
    # A model object stays on torch: it may be training, and its weights change under the cache.
    if device.type == "cpu" and (is_onnx_file or isinstance(source, (str, Path))) and openvino_installed():
        return "openvino"
    return "onnx" if is_onnx_file else "torch"


def open_network(weights_or_model: Any, backend: str = "auto", precision: str = "auto",
                 device: torch.device | str = "cpu", threads: int | None = None,
                 cache_dir: str | Path | None = None, cuda_graphs: bool = True):
    """A backend network for a checkpoint path or bundled name, an ``.onnx`` file, an
    :class:`~pafpose.inference.onnx_export.OnnxSession`, or a model object with ``infer``.

    ``backend="auto"``: OpenVINO for files on a CPU where it is installed, else onnxruntime for
    an ONNX file and torch for the rest (a model object always runs on torch unless asked); when
    the OpenVINO conversion cannot be built at all (nowhere to write it), torch. ``precision="auto"``:
    see :func:`choose_precision`. ``cuda_graphs``: replay the torch network as CUDA graphs on CUDA.
    """
    from ..onnx_export import OnnxSession

    device = torch.device(device)
    if backend not in ("auto", *BACKENDS):
        raise UserError(f"unknown backend {backend!r} (choose auto, {', '.join(BACKENDS)})")
    if backend == "openvino" and device.type != "cpu":
        raise UserError(f"the openvino backend runs on the CPU here, not {device}; use --backend torch")
    is_session = isinstance(weights_or_model, OnnxSession)
    is_onnx_file = is_session or (isinstance(weights_or_model, (str, Path))
                                  and Path(weights_or_model).suffix.lower() == ".onnx")
    asked = backend
    if backend == "auto":
        backend = _default_backend(weights_or_model, is_onnx_file, device)
    if backend == "torch" and is_onnx_file:
        raise UserError(f"{weights_or_model}: an ONNX file runs on the onnx or openvino backend, not torch")

    if is_onnx_file:
        session = weights_or_model if is_session else OnnxSession(weights_or_model, device=str(device),
                                                                   threads=threads)
        record = InferenceSettings.from_entry(session.recommended, str(session.path)).precision_ap
        chosen = choose_precision(precision, backend, device, record)
        if backend == "onnx":
            return OnnxNetwork(session, device)
        return openvino_from_onnx(session, chosen, threads, cache_dir)

    model, settings, digest_source = _load_torch_model(weights_or_model, device)
    head = getattr(model, "head", None)
    chosen = choose_precision(precision, backend, device, settings.precision_ap)
    if backend == "onnx":
        path = _cached_onnx(model, settings, digest_source, cache_dir)
        return OnnxNetwork(OnnxSession(path, device=str(device), threads=threads), device)
    if backend == "openvino":
        try:
            parts = cached_openvino(model, chosen, settings, digest_source, cache_dir)
        except OSError as err:
            if asked != "auto":
                raise UserError(f"the openvino backend cannot convert the network here "
                                f"({err.strerror or err}); use --backend torch") from None
            print(f"pafpose: OpenVINO conversion impossible ({err.strerror or err}); using the torch "
                  "backend", file=sys.stderr)
            backend = "torch"
            chosen = choose_precision(precision, backend, device, settings.precision_ap)
        else:
            return OpenVinoNetwork(parts, chosen, head or HeadSpec(), settings, threads)
    if threads:
        torch.set_num_threads(int(threads))
    return TorchNetwork(model, device, chosen, head, settings, cuda_graphs=cuda_graphs)


def _load_torch_model(weights_or_model: Any, device: torch.device):
    """(model, its checkpoint's inference settings, what its digest is computed from)."""
    if isinstance(weights_or_model, (str, Path)):
        from ...io.checkpoint import load_checkpoint, model_from_checkpoint, resolve_weights

        path = resolve_weights(weights_or_model)
        state = load_checkpoint(path)
        model, _ = model_from_checkpoint(state, path, device=str(device))
        return model, InferenceSettings.from_entry(state.get("inference"), str(path)), path
    if isinstance(weights_or_model, PoseNetwork):
        return weights_or_model, InferenceSettings(), weights_or_model
    raise UserError(f"expected a checkpoint path, an .onnx file or a model with .infer(), got "
                    f"{type(weights_or_model).__name__}")


def _cached_onnx(model, settings: InferenceSettings, digest_source, cache_dir) -> Path:
    from ..onnx_export import export_onnx

    key = {"weights": weights_digest(digest_source), "format": "onnx", "torch": torch.__version__}
    entry = ModelCache(cache_dir).get_or_build(
        key, ("model.onnx",),
        lambda folder: export_onnx(model, folder / "model.onnx", inference=settings.to_entry()),
        what="ONNX export")
    return entry / "model.onnx"

"""The OpenVINO backend: the network converted to OpenVINO IR (once, then cached) and run on the CPU.

fp32 computes what torch does (to float rounding); bf16 compiles the stages after the first with
the CPU plugin's bf16 hint and the backbone and first stage in fp32
(:data:`~pafpose.inference.backends.networks.MIXED_BF16`; a single model, such as an ONNX file,
runs wholly in bf16); int8 carries NNCF's quantize/dequantize nodes in the backbone's stride-8
layers and runs the rest in fp32 (:mod:`.calibration` has the measured per-layer sensitivity).
Conversions are kept in a :class:`~.cache.ModelCache` keyed by the weights' digest, layout, CPU
kind and OpenVINO version.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from ...codec.spec import HeadSpec
from ...errors import UserError
from ...extras import require
from ...models.base import splits_in_two
from ..settings import InferenceSettings
from .cache import ModelCache, weights_digest
from .calibration import INT8_LAYOUT
from .capabilities import cpu_capabilities
from .networks import MIXED_BF16

__all__ = ["OpenVinoNetwork", "convert_to_openvino", "cached_openvino", "openvino_from_onnx", "openvino_installed"]


def openvino_installed() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


class OpenVinoNetwork:
    """OpenVINO IR compiled for the CPU: one model, or a backbone and stages run in turn.

    Each calling thread gets its own infer requests (a request runs one inference at a time), so
    one network serves several threads or Runners at once. The latency hint with unpinned threads
    keeps a busy machine usable: pinned threads wait for cores another process holds.

    Args:
        parts: [(model.xml, "fp32" | "bf16")], run in order; the last returns (heatmaps, pafs).
    """

    backend = "openvino"

    def __init__(self, parts: list[tuple[Path, str]], precision: str, head: HeadSpec,
                 settings: InferenceSettings, threads: int | None = None):
        ov = require("openvino", "openvino", "the openvino backend")
        self.precision = precision
        self.head = head
        self.settings = settings
        self.device = torch.device("cpu")
        core = ov.Core()
        self._compiled = []
        for xml, part_precision in parts:
            config = {"INFERENCE_PRECISION_HINT": "bf16" if part_precision == "bf16" else "f32",
                      "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
            if threads:
                config["INFERENCE_NUM_THREADS"] = int(threads)
            try:
                self._compiled.append(core.compile_model(core.read_model(str(xml)), "CPU", config))
            except RuntimeError as err:
                raise UserError(f"{xml}: OpenVINO cannot compile this model "
                                f"({str(err).splitlines()[0][:200]})") from None
        self._local = threading.local()

    def _requests(self) -> list:
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = [model.create_infer_request() for model in self._compiled]
        return requests

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.ascontiguousarray(batch.cpu().numpy(), dtype=np.float32)
        requests = self._requests()
        for request in requests[:-1]:
            x = request.infer({0: x})[0]
        outputs = requests[-1].infer({0: x})
        # The request reuses its output buffers on the next call: copy before handing them out.
        return torch.from_numpy(outputs[0].copy()), torch.from_numpy(outputs[1].copy())


def convert_to_openvino(model: torch.nn.Module, parts: bool = False):
    """``model.infer`` as an OpenVINO model with dynamic batch, height and width; with ``parts``
    a list of two: ``model.infer_first_stage`` and ``model.infer_later_stages``.

    Traced at 8 strides square. Shapes computed in Python while tracing (the TF-SAME padding of
    mobilenet-thin's stride-2 layers) become constants; they are the same for every input whose
    sides are multiples of the stride, which is all the Predictor feeds.
    """
    import openvino as ov

    from ..onnx_export import MethodModule

    side = 8 * int(getattr(getattr(model, "head", None), "stride", 8) or 8)
    model = model.cpu().eval()
    example = torch.rand(1, 3, side, side)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if not parts:
            return ov.convert_model(MethodModule(model, "infer").eval(), example_input=example, input=[(-1, 3, -1, -1)])
        second = model.infer_first_stage(example)
        return [ov.convert_model(MethodModule(model, "infer_first_stage").eval(), example_input=example,
                                 input=[(-1, 3, -1, -1)]),
                ov.convert_model(MethodModule(model, "infer_later_stages").eval(), example_input=second,
                                 input=[(-1, second.shape[1], -1, -1)])]


def _entry(digest: str, layout: str, names: tuple[str, ...], build, cache_dir) -> Path:
    """The cache folder holding ``names``' IR files (``build(folder)`` writes them when absent)."""
    import openvino as ov

    key = {"weights": digest, "format": "openvino-ir", "layout": layout, "openvino": ov.__version__,
           # int8 calibration statistics do not depend on the CPU, but the chosen kernels' rounding
           # does, and a rebuild costs a minute at most: keep entries per CPU kind.
           "cpu": cpu_capabilities().key}
    what = ("int8 quantization (NNCF, once per weights and CPU)" if layout.startswith("int8")
            else "OpenVINO conversion")
    files = [f"{name}.{suffix}" for name in names for suffix in ("xml", "bin")]
    return ModelCache(cache_dir).get_or_build(key, files, build, what=what)


def _save(folder: Path, irs: dict) -> None:
    import openvino as ov

    for name, ir in irs.items():
        ov.save_model(ir, str(folder / f"{name}.xml"), compress_to_fp16=False)


def cached_openvino(model, precision: str, settings: InferenceSettings, digest_source, cache_dir):
    """[(model.xml, precision)] to run in turn, from the cache or converted now: the whole
    network (fp32, int8: quantized), or its first part and the later stages (bf16, :data:`MIXED_BF16`)."""
    digest = weights_digest(digest_source)
    if precision == "bf16" and MIXED_BF16 and splits_in_two(model):
        def build_parts(folder: Path) -> None:
            first, later = convert_to_openvino(model, parts=True)
            _save(folder, {"first": first, "later": later})

        folder = _entry(digest, "split", ("first", "later"), build_parts, cache_dir)
        return [(folder / "first.xml", "fp32"), (folder / "later.xml", "bf16")]

    def build(folder: Path) -> None:
        ir = convert_to_openvino(model)
        if precision == "int8":
            from .calibration import quantize_int8

            ir = quantize_int8(ir, model, settings.input_height)
        _save(folder, {"model": ir})

    layout = INT8_LAYOUT if precision == "int8" else "whole"
    folder = _entry(digest, layout, ("model",), build, cache_dir)
    return [(folder / "model.xml", precision)]


def openvino_from_onnx(session, precision: str, threads, cache_dir) -> OpenVinoNetwork:
    """An ONNX file on OpenVINO: read directly for float precisions; int8 needs the cache."""
    head = session.head
    settings = InferenceSettings.from_entry(session.recommended, str(session.path))
    if precision == "int8":
        import openvino as ov

        from .calibration import quantize_int8

        def build(folder: Path) -> None:
            ir = quantize_int8(ov.Core().read_model(str(session.path)), None, settings.input_height, head)
            _save(folder, {"model": ir})

        path = _entry(weights_digest(session.path), INT8_LAYOUT, ("model",), build, cache_dir) / "model.xml"
    else:
        path = session.path
    return OpenVinoNetwork([(path, precision)], precision, head, settings, threads)

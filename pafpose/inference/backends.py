"""Where the network runs: torch, onnxruntime or OpenVINO, at a chosen numeric precision.

Every backend is a callable ``network(batch) -> (heatmaps, pafs)`` over a (B, 3, H, W) float32
RGB [0, 1] tensor (H, W multiples of the head's stride), returning float32 torch tensors, with
``backend``, ``precision``, ``head`` and ``recommended`` (the checkpoint's inference settings).

Precisions and their accuracy contract. A reduced precision changes the maps, and decoding turns
small changes near a threshold into lost keypoints, so what it costs is measured, not assumed:
``benchmarks/realtime.py --record`` runs every backend and precision on the bundled annotated
COCO photos and stores each one's AP in the checkpoint (``inference["precision_ap"]``). The
``auto`` precision picks the fastest precision that this CPU supports and whose recorded AP is
within :data:`AP_TOLERANCE` of fp32; weights without a record run in fp32. Explicit precisions
are always honoured (and say what they cost on the bundled weights in the README).

CPU capabilities are detected, never assumed: bf16 needs AVX512-BF16 or AMX, fast int8 needs
VNNI (AVX512-VNNI, AVX-VNNI or AMX); elsewhere those precisions are refused (bf16) or allowed but
slow (int8). Conversions (checkpoint -> OpenVINO IR, NNCF quantization) happen once and are kept
in a :class:`~pafpose.inference.model_cache.ModelCache` keyed by the weights' digest, backend,
precision, CPU and runtime version.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..codec.head import HeadSpec
from ..errors import UserError
from ..extras import require

__all__ = ["BACKENDS", "PRECISIONS", "AP_TOLERANCE", "CpuCapabilities", "cpu_capabilities",
           "open_network", "TorchNetwork", "OnnxNetwork", "OpenVinoNetwork", "supported_precisions",
           "choose_precision"]

BACKENDS = ("torch", "onnx", "openvino")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
#: A reduced precision is chosen by ``auto`` only when its recorded AP is at most this far below fp32's.
AP_TOLERANCE = 0.01
#: Fastest first: ``auto`` takes the first supported one that keeps the contract.
_SPEED_ORDER = ("int8", "bf16", "fp16", "fp32")
#: bf16 runs the stages after the first in bf16 and keeps the backbone and the first stage in
#: fp32. Measured on the bundled network (AP on its 4 photos / on their 24 annotated views,
#: fp32 0.651 / 0.619, PAF threshold 0.05): bf16 everywhere 0.617 / 0.606, in the backbone alone
#: 0.622, in all stages 0.652 / 0.608, in stages 2-6 0.655 / 0.611, the only split inside the
#: 0.01 contract then (with the decoder's 0.025 now: fp32 0.660 / 0.622, so just outside); those
#: stages hold more than half of its multiply-adds.
MIXED_BF16 = True


@dataclass(frozen=True)
class CpuCapabilities:
    """What this CPU can run fast; ``flags`` are the relevant /proc/cpuinfo flags found."""

    name: str
    flags: frozenset[str]

    @property
    def bf16(self) -> bool:
        return bool(self.flags & {"avx512_bf16", "amx_bf16"})

    @property
    def int8(self) -> bool:
        return bool(self.flags & {"avx512_vnni", "avx_vnni", "amx_int8"})

    @property
    def key(self) -> str:
        """Identifies the CPU kind for the cache: compiled kernels differ between these."""
        return f"{self.name}|{','.join(sorted(self.flags))}"


_RELEVANT_FLAGS = {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16",
                   "amx_int8", "amx_tile", "avx512_fp16"}


@functools.cache
def cpu_capabilities() -> CpuCapabilities:
    """Read this CPU's name and vector/matrix extensions (Linux /proc/cpuinfo, else OpenVINO's view)."""
    name, flags = "cpu", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and name == "cpu":
            name = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split()) & _RELEVANT_FLAGS
    if not text:  # macOS, Windows: ask OpenVINO when it is installed; otherwise assume nothing
        try:
            import openvino as ov

            core = ov.Core()
            name = core.get_property("CPU", "FULL_DEVICE_NAME")
            caps = set(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
            flags = {"avx512_bf16"} if "BF16" in caps else set()
        except Exception:  # noqa: BLE001 - any failure means: no capability known
            pass
    return CpuCapabilities(name, frozenset(flags))


def supported_precisions(backend: str, device: torch.device, caps: CpuCapabilities | None = None) -> tuple[str, ...]:
    """Precisions ``backend`` can run on ``device`` here (fp32 always)."""
    caps = caps or cpu_capabilities()
    if device.type == "cuda":
        return ("fp32", "fp16", "bf16") if backend == "torch" else ("fp32",)
    if backend == "onnx" or device.type != "cpu":
        return ("fp32",)
    if backend == "torch":
        return ("fp32", "bf16") if caps.bf16 else ("fp32",)
    return ("fp32", "int8", *(("bf16",) if caps.bf16 else ()))


def choose_precision(precision: str, backend: str, device: torch.device, recommended: dict,
                     caps: CpuCapabilities | None = None) -> str:
    """The precision to run: ``precision`` checked against this machine, or for ``"auto"`` the
    fastest supported one whose recorded AP (``recommended["precision_ap"]``) keeps the contract."""
    supported = supported_precisions(backend, device, caps)
    if precision != "auto":
        if precision not in PRECISIONS:
            raise UserError(f"unknown precision {precision!r} (choose auto, {', '.join(PRECISIONS)})")
        if precision not in supported:
            why = "this CPU has no bf16 instructions (AVX512-BF16 or AMX)" if precision == "bf16" \
                and device.type == "cpu" else f"the {backend} backend on {device.type} does not run it"
            raise UserError(f"precision {precision}: {why}; supported here: {', '.join(supported)}")
        return precision
    record = recommended.get("precision_ap") or {}
    reference = record.get(f"{backend}-fp32", record.get("fp32"))
    if reference is None:
        return "fp32"
    for candidate in _SPEED_ORDER:
        ap = record.get(f"{backend}-{candidate}", record.get(candidate))
        if candidate in supported and ap is not None and ap >= reference - AP_TOLERANCE:
            return candidate
    return "fp32"


# ---------------------------------------------------------------------------------------------
# the backends
# ---------------------------------------------------------------------------------------------


class TorchNetwork:
    """A PoseNet (anything with ``infer(x) -> (heatmaps, pafs)``) under inference_mode, with
    autocast for bf16 (CPUs with bf16 instructions, CUDA: the stages after the first, see
    :data:`MIXED_BF16`) and fp16 (CUDA, the whole network)."""

    backend = "torch"

    def __init__(self, model: torch.nn.Module, device: torch.device, precision: str = "fp32",
                 head: HeadSpec | None = None, recommended: dict | None = None):
        self.model = model.to(device).eval()
        self.device = device
        self.precision = precision
        self.head = head if head is not None else getattr(model, "head", None)
        self.recommended = dict(recommended or {})
        self._dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = batch.to(self.device)
        with torch.inference_mode():
            if self.precision == "bf16" and hasattr(self.model, "infer_later_stages"):
                second_input = self.model.infer_first_stage(batch)
                with torch.autocast(self.device.type, dtype=torch.bfloat16):
                    heatmaps, pafs = self.model.infer_later_stages(second_input)
            else:
                with torch.autocast(self.device.type, dtype=self._dtype, enabled=self._dtype is not None):
                    heatmaps, pafs = self.model.infer(batch)
        return heatmaps.float(), pafs.float()


class OnnxNetwork:
    """An exported model run through onnxruntime (fp32)."""

    backend = "onnx"
    precision = "fp32"

    def __init__(self, session, device: torch.device):
        self.session = session
        self.device = device
        self.head = session.head
        self.recommended = dict(session.recommended)

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heatmaps, pafs = self.session.infer(batch.cpu().numpy())
        return torch.from_numpy(heatmaps).to(self.device), torch.from_numpy(pafs).to(self.device)


class OpenVinoNetwork:
    """OpenVINO IR compiled for the CPU: one model, or a backbone and stages run in turn.

    fp32 computes what torch does (to float rounding); bf16 compiles the stages after the first
    with the CPU plugin's bf16 hint, the backbone and first stage in fp32 (:data:`MIXED_BF16`; a
    single model, such as an ONNX file, runs wholly in bf16); an int8 model carries NNCF's quantize/dequantize nodes and
    runs its other layers in fp32. The latency hint with unpinned threads keeps a busy machine
    usable: pinned threads wait for cores another process holds.

    Args:
        parts: [(model.xml, "fp32" | "bf16")], run in order; the last returns (heatmaps, pafs).
    """

    backend = "openvino"

    def __init__(self, parts: list[tuple[Path, str]], precision: str, head: HeadSpec, recommended: dict,
                 threads: int | None = None):
        ov = require("openvino", "openvino", "the openvino backend")
        self.precision = precision
        self.head = head
        self.recommended = dict(recommended)
        core = ov.Core()
        self._requests = []
        for xml, part_precision in parts:
            config = {"INFERENCE_PRECISION_HINT": "bf16" if part_precision == "bf16" else "f32",
                      "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
            if threads:
                config["INFERENCE_NUM_THREADS"] = int(threads)
            try:
                compiled = core.compile_model(core.read_model(str(xml)), "CPU", config)
            except RuntimeError as err:
                raise UserError(f"{xml}: OpenVINO cannot compile this model "
                                f"({str(err).splitlines()[0][:200]})") from None
            self._requests.append(compiled.create_infer_request())

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.ascontiguousarray(batch.cpu().numpy(), dtype=np.float32)
        for request in self._requests[:-1]:
            x = request.infer({0: x})[0]
        outputs = self._requests[-1].infer({0: x})
        # The request reuses its output buffers on the next call: copy before handing them out.
        return torch.from_numpy(outputs[0].copy()), torch.from_numpy(outputs[1].copy())


# ---------------------------------------------------------------------------------------------
# opening a network
# ---------------------------------------------------------------------------------------------


def _openvino_installed() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def _default_backend(source: Any, is_onnx_file: bool, device: torch.device) -> str:
    # A model object stays on torch: it may be training, and its weights change under the cache.
    if device.type == "cpu" and (is_onnx_file or isinstance(source, (str, Path))) and _openvino_installed():
        return "openvino"
    return "onnx" if is_onnx_file else "torch"


def weights_digest(source: Any) -> str:
    """sha256 of a weights file, or of a model's config and parameters (the cache key's core)."""
    if isinstance(source, (str, Path)):
        from .model_cache import file_digest

        return file_digest(Path(source))
    digest = hashlib.sha256()
    digest.update(repr(getattr(source, "cfg", type(source).__name__)).encode())
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in source.state_dict().items()}, buffer)
    digest.update(buffer.getvalue())
    return digest.hexdigest()


def open_network(weights_or_model: Any, backend: str = "auto", precision: str = "auto",
                 device: torch.device | str = "cpu", threads: int | None = None,
                 cache_dir: str | Path | None = None):
    """A backend network for a checkpoint path or bundled name, an ``.onnx`` file, an
    :class:`~pafpose.inference.onnx_export.OnnxSession`, or a model object with ``infer``.

    ``backend="auto"``: OpenVINO for files on a CPU where it is installed, else onnxruntime for
    an ONNX file and torch for the rest (a model object always runs on torch unless asked). ``precision="auto"``: see :func:`choose_precision`.
    """
    from .onnx_export import OnnxSession

    device = torch.device(device)
    if backend not in ("auto", *BACKENDS):
        raise UserError(f"unknown backend {backend!r} (choose auto, {', '.join(BACKENDS)})")
    if backend == "openvino" and device.type != "cpu":
        raise UserError(f"the openvino backend runs on the CPU here, not {device}; use --backend torch")
    is_session = isinstance(weights_or_model, OnnxSession)
    is_onnx_file = is_session or (isinstance(weights_or_model, (str, Path))
                                  and Path(weights_or_model).suffix.lower() == ".onnx")
    if backend == "auto":
        backend = _default_backend(weights_or_model, is_onnx_file, device)
    if backend == "torch" and is_onnx_file:
        raise UserError(f"{weights_or_model}: an ONNX file runs on the onnx or openvino backend, not torch")

    if is_onnx_file:
        session = weights_or_model if is_session else OnnxSession(weights_or_model, device=str(device),
                                                                   threads=threads)
        if backend == "onnx":
            choose_precision(precision, "onnx", device, session.recommended)
            return OnnxNetwork(session, device)
        chosen = choose_precision(precision, backend, device, session.recommended)
        return _openvino_from_onnx(session, chosen, threads, cache_dir)

    model, recommended, digest_source = _load_torch_model(weights_or_model, device)
    head = getattr(model, "head", None)
    if backend == "onnx":
        choose_precision(precision, "onnx", device, recommended)
        path = _cached_onnx(model, recommended, digest_source, cache_dir)
        return OnnxNetwork(OnnxSession(path, device=str(device), threads=threads), device)
    chosen = choose_precision(precision, backend, device, recommended)
    if backend == "torch":
        if threads:
            torch.set_num_threads(int(threads))
        return TorchNetwork(model, device, chosen, head, recommended)
    parts = _cached_openvino(model, chosen, recommended, digest_source, cache_dir)
    return OpenVinoNetwork(parts, chosen, head or HeadSpec(), recommended, threads)


def _load_torch_model(weights_or_model: Any, device: torch.device):
    """(model, its checkpoint's inference settings, what its digest is computed from)."""
    if isinstance(weights_or_model, (str, Path)):
        from ..io.checkpoint import load_checkpoint, model_from_checkpoint, resolve_weights

        path = resolve_weights(weights_or_model)
        state = load_checkpoint(path)
        model, _ = model_from_checkpoint(state, path, device=str(device))
        return model, dict(state.get("inference") or {}), path
    if hasattr(weights_or_model, "infer"):
        return weights_or_model, {}, weights_or_model
    raise UserError(f"expected a checkpoint path, an .onnx file or a model with .infer(), got "
                    f"{type(weights_or_model).__name__}")


def _cache(cache_dir):
    from .model_cache import ModelCache

    return ModelCache(cache_dir)


def _cached_onnx(model, recommended: dict, digest_source, cache_dir) -> Path:
    from .onnx_export import export_onnx

    key = {"weights": weights_digest(digest_source), "format": "onnx", "torch": torch.__version__}
    entry = _cache(cache_dir).get_or_build(
        key, ("model.onnx",), lambda folder: export_onnx(model, folder / "model.onnx", inference=recommended),
        what="ONNX export")
    return entry / "model.onnx"


def _openvino_entry(digest: str, layout: str, names: tuple[str, ...], build, cache_dir) -> Path:
    """The cache folder holding ``names``' IR files (``build(folder)`` writes them when absent)."""
    import openvino as ov

    key = {"weights": digest, "format": "openvino-ir", "layout": layout, "openvino": ov.__version__,
           # int8 calibration statistics do not depend on the CPU, but the chosen kernels' rounding
           # does, and a rebuild costs a minute at most: keep entries per CPU kind.
           "cpu": cpu_capabilities().key}
    what = "int8 quantization (NNCF, once per weights and CPU)" if layout == "int8" else "OpenVINO conversion"
    files = [f"{name}.{suffix}" for name in names for suffix in ("xml", "bin")]
    return _cache(cache_dir).get_or_build(key, files, build, what=what)


def _save_irs(folder: Path, irs: dict) -> None:
    import openvino as ov

    for name, ir in irs.items():
        ov.save_model(ir, str(folder / f"{name}.xml"), compress_to_fp16=False)


def _cached_openvino(model, precision: str, recommended: dict, digest_source, cache_dir):
    """[(model.xml, precision)] to run in turn, from the cache or converted now: the whole
    network (fp32, int8: quantized), or its first part and the later stages (bf16, :data:`MIXED_BF16`)."""
    if precision == "bf16" and MIXED_BF16 and hasattr(model, "infer_later_stages"):
        def build_parts(folder: Path) -> None:
            first, later = convert_to_openvino(model, parts=True)
            _save_irs(folder, {"first": first, "later": later})

        folder = _openvino_entry(weights_digest(digest_source), "split", ("first", "later"), build_parts,
                                 cache_dir)
        return [(folder / "first.xml", "fp32"), (folder / "later.xml", "bf16")]

    def build(folder: Path) -> None:
        ir = convert_to_openvino(model)
        if precision == "int8":
            from .calibration import quantize_int8

            ir = quantize_int8(ir, model, recommended)
        _save_irs(folder, {"model": ir})

    layout = "int8" if precision == "int8" else "whole"
    folder = _openvino_entry(weights_digest(digest_source), layout, ("model",), build, cache_dir)
    return [(folder / "model.xml", precision)]


def _openvino_from_onnx(session, precision: str, threads, cache_dir) -> OpenVinoNetwork:
    """An ONNX file on OpenVINO: read directly for float precisions; int8 needs the cache."""
    head = session.head
    if precision == "int8":
        import openvino as ov

        from .calibration import quantize_int8

        def build(folder: Path) -> None:
            ir = quantize_int8(ov.Core().read_model(str(session.path)), None, session.recommended, head)
            _save_irs(folder, {"model": ir})

        path = _openvino_entry(weights_digest(session.path), "int8", ("model",), build, cache_dir) / "model.xml"
    else:
        path = session.path
    return OpenVinoNetwork([(path, precision)], precision, head, session.recommended, threads)


def convert_to_openvino(model: torch.nn.Module, parts: bool = False):
    """``model.infer`` as an OpenVINO model with dynamic batch, height and width; with ``parts``
    a list of two: ``model.infer_first_stage`` and ``model.infer_later_stages``.

    Traced at 8 strides square. Shapes computed in Python while tracing (the TF-SAME padding of
    mobilenet-thin's stride-2 layers) become constants; they are the same for every input whose
    sides are multiples of the stride, which is all the Predictor feeds.
    """
    import warnings

    import openvino as ov

    from .onnx_export import MethodModule

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


def default_cache_dir() -> Path:
    """``$PAFPOSE_CACHE``, else ``$XDG_CACHE_HOME/pafpose``, else ``~/.cache/pafpose``."""
    if os.environ.get("PAFPOSE_CACHE"):
        return Path(os.environ["PAFPOSE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pafpose"

"""Which precisions a backend can run here, and which one ``auto`` picks.

A reduced precision changes the maps, and decoding turns small changes near a threshold into lost
keypoints, so what it costs is measured, not assumed: ``benchmarks/realtime.py --record`` runs
every backend and precision on the bundled annotated COCO photos and stores each one's AP with the
weights (:attr:`InferenceSettings.precision_ap`). ``auto`` picks the fastest precision this machine
supports whose recorded AP is within :data:`AP_TOLERANCE` of fp32; weights without a record run in
fp32. Explicit precisions are always honoured.

CPU capabilities are detected, never assumed: bf16 needs AVX512-BF16 or AMX, fast int8 needs VNNI
(AVX512-VNNI, AVX-VNNI or AMX); elsewhere bf16 is refused and int8 runs when asked for but is
never ``auto``'s choice. On CUDA the record's keys are "cuda-<precision>".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

from ...errors import UserError

__all__ = ["BACKENDS", "PRECISIONS", "AP_TOLERANCE", "CpuCapabilities", "cpu_capabilities",
           "supported_precisions", "choose_precision"]

BACKENDS = ("torch", "onnx", "openvino")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
#: A reduced precision is chosen by ``auto`` only when its recorded AP is at most this far below fp32's.
AP_TOLERANCE = 0.01
#: Fastest first: ``auto`` takes the first supported one that keeps the contract.
_SPEED_ORDER = ("int8", "bf16", "fp16", "fp32")
#: On CUDA (H200, the bundled network as CUDA graphs, batch 8): fp16 0.37 ms a frame, fp32 0.60,
#: bf16 0.62 -- bf16 buys nothing there, so ``auto`` weighs only fp16 against fp32.
_CUDA_SPEED_ORDER = ("fp16", "fp32")


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


def _why_not(precision: str, backend: str, device: torch.device, caps: CpuCapabilities) -> str:
    """Why ``precision`` does not run here: the CPU only when the CPU is what lacks it."""
    if precision == "bf16" and device.type == "cpu" and not caps.bf16 and backend != "onnx":
        return "this CPU has no bf16 instructions (AVX512-BF16 or AMX)"
    return f"the {backend} backend on {device.type} does not run it"


def choose_precision(precision: str, backend: str, device: torch.device, record: Mapping[str, float],
                     caps: CpuCapabilities | None = None) -> str:
    """The precision to run: ``precision`` checked against this machine, or for ``"auto"`` the
    fastest supported one whose recorded AP (``record``, "<backend>-<precision>" -> AP) keeps the
    contract."""
    caps = caps or cpu_capabilities()
    supported = supported_precisions(backend, device, caps)
    if precision != "auto":
        if precision not in PRECISIONS:
            raise UserError(f"unknown precision {precision!r} (choose auto, {', '.join(PRECISIONS)})")
        if precision not in supported:
            raise UserError(f"precision {precision}: {_why_not(precision, backend, device, caps)}; "
                            f"supported here: {', '.join(supported)}")
        return precision
    prefix = "cuda" if device.type == "cuda" else backend
    reference = record.get(f"{prefix}-fp32", record.get("fp32"))
    if reference is None:
        return "fp32"
    for candidate in _CUDA_SPEED_ORDER if device.type == "cuda" else _SPEED_ORDER:
        if candidate == "int8" and not caps.int8:  # runs, but without VNNI no faster than fp32
            continue
        ap = record.get(f"{prefix}-{candidate}", record.get(candidate) if device.type != "cuda" else None)
        if candidate in supported and ap is not None and ap >= reference - AP_TOLERANCE:
            return candidate
    return "fp32"

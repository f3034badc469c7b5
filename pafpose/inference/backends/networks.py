"""The torch and onnxruntime backends.

Every backend is a callable ``network(batch) -> (heatmaps, pafs)`` over a (B, 3, H, W) float32
RGB [0, 1] tensor (H, W multiples of the head's stride), returning float32 torch tensors, with
``backend``, ``precision``, ``device``, ``head`` and ``settings`` (the weights'
:class:`~pafpose.inference.settings.InferenceSettings`). Each is safe to call from several
threads at once.
"""

from __future__ import annotations

import torch

from ...codec.spec import HeadSpec
from ...models.base import PoseNetwork, splits_in_two
from ..settings import InferenceSettings
from .cuda_graphs import CudaGraphs

__all__ = ["TorchNetwork", "OnnxNetwork", "MIXED_BF16"]

#: bf16 runs the stages after the first in bf16 and keeps the backbone and the first stage in
#: fp32. Measured on the bundled network (AP on its 4 photos / on their 24 annotated views,
#: fp32 0.651 / 0.619, PAF threshold 0.05): bf16 everywhere 0.617 / 0.606, in the backbone alone
#: 0.622, in all stages 0.652 / 0.608, in stages 2-6 0.655 / 0.611, the only split inside the
#: 0.01 contract then (with the decoder's 0.025 now: fp32 0.660 / 0.622, so just outside); those
#: stages hold more than half of its multiply-adds.
MIXED_BF16 = True


class TorchNetwork:
    """A network with ``infer`` under inference mode, with autocast for bf16 (the stages after the
    first, :data:`MIXED_BF16`, where the network splits in two) and fp16 (CUDA, the whole network).
    On CUDA with ``cuda_graphs`` the call is replayed as a CUDA graph per input shape
    (:class:`~pafpose.inference.backends.cuda_graphs.CudaGraphs`).

    fp32 on CUDA computes as the process has PyTorch set: by PyTorch's default cuDNN runs float32
    convolutions in TF32 (10-bit mantissas: the maps move a little, and a keypoint where the
    decoder's candidates nearly tie may move). Such settings are process-wide, so they are left
    to the application: ``torch.backends.cudnn.allow_tf32 = False`` (before the first call, as
    a captured graph keeps the kernels it was captured with) gives IEEE float32, what the CPU
    computes."""

    backend = "torch"

    def __init__(self, model: PoseNetwork, device: torch.device, precision: str = "fp32",
                 head: HeadSpec | None = None, settings: InferenceSettings | None = None,
                 cuda_graphs: bool = True):
        self.model = model.to(device).eval() if isinstance(model, torch.nn.Module) else model
        self.device = device
        self.precision = precision
        self.head = head if head is not None else getattr(model, "head", None)
        self.settings = settings or InferenceSettings()
        self._dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self._split = precision == "bf16" and MIXED_BF16 and splits_in_two(model)
        self._graphs = CudaGraphs(self._eager) if cuda_graphs and device.type == "cuda" else None

    def _eager(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode():
            if self._split:
                second_input = self.model.infer_first_stage(batch)
                with torch.autocast(self.device.type, dtype=torch.bfloat16):
                    heatmaps, pafs = self.model.infer_later_stages(second_input)
            else:
                with torch.autocast(self.device.type, dtype=self._dtype, enabled=self._dtype is not None):
                    heatmaps, pafs = self.model.infer(batch)
            return heatmaps.float(), pafs.float()

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = batch.to(self.device, non_blocking=True)
        if self._graphs is not None:
            with torch.inference_mode():
                return self._graphs(batch)
        return self._eager(batch)


class OnnxNetwork:
    """An exported model run through onnxruntime (fp32)."""

    backend = "onnx"
    precision = "fp32"

    def __init__(self, session, device: torch.device):
        self.session = session
        self.device = device
        self.head = session.head
        self.settings = InferenceSettings.from_entry(session.recommended, str(session.path))

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heatmaps, pafs = self.session.infer(batch.cpu().numpy())
        return torch.from_numpy(heatmaps).to(self.device), torch.from_numpy(pafs).to(self.device)

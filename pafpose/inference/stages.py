"""The engine's stages between an image and its maps, each an object with one job.

    image (BGR uint8) ─▶ preprocessor ─▶ network stage ─▶ map post-processing ─▶ (people decoder)
                         cv2 | torch on     backend + a     flip test, scales,     :mod:`.decoding`
                         the device         shape policy    crop, to the host

The :class:`~pafpose.inference.predict.Predictor` chains them synchronously; the
:class:`~pafpose.inference.runner.Runner` runs them as a pipeline. Every stage returns the
seconds it took with its result, so timings travel with the frames (:class:`StageTimes`).

Geometry (resizing, padding, the map grids) is :mod:`pafpose.inference.geometry`'s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..codec.head import PafCodec
from .geometry import PAD_VALUE, NetworkInput, padded_size, resample_maps, resize_and_pad

__all__ = ["StageTimes", "CpuPreprocessor", "DevicePreprocessor", "NetworkStage", "MapPostprocessor",
           "make_preprocessor"]


@dataclass
class StageTimes:
    """Seconds spent per stage (for one frame, or summed over many)."""

    read: float = 0.0
    preprocess: float = 0.0
    network: float = 0.0
    decode: float = 0.0
    track: float = 0.0
    write: float = 0.0

    def __iadd__(self, other: "StageTimes") -> "StageTimes":
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self



class CpuPreprocessor:
    """Images -> the network's input batch with OpenCV on the host: resized (area when
    shrinking, cubic when enlarging), grey-padded right and bottom to whole cells, RGB [0, 1],
    the mirrored copies after the originals for the flip test, then moved to ``device``."""

    def __init__(self, stride: int, device: torch.device, flip: bool = False, bucket: int = 0):
        self.stride, self.device, self.flip, self.bucket = stride, torch.device(device), flip, bucket

    def pad(self, image: np.ndarray, resize: NetworkInput) -> np.ndarray:
        """One image resized and padded (H', W', 3) BGR uint8; a reader thread may do this early."""
        return resize_and_pad(image, resize, self.stride, self.bucket)

    def __call__(self, images: Sequence[np.ndarray], resizes: Sequence[NetworkInput],
                 padded: Sequence[np.ndarray] | None = None) -> torch.Tensor:
        """(B[*2], 3, Hp, Wp) float32 on the device; ``padded``: :meth:`pad`'s results, if done already."""
        batch = np.stack(padded if padded is not None else
                         [self.pad(image, r) for image, r in zip(images, resizes)])
        if self.flip:
            batch = np.concatenate([batch, batch[:, :, ::-1]])
        tensor = torch.from_numpy(np.ascontiguousarray(batch[..., ::-1]))
        if self.device.type == "cuda":
            tensor = tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.permute(0, 3, 1, 2).float().div_(255.0)


class DevicePreprocessor:
    """The same preparation with torch on the network's device: uint8 frames uploaded (from
    pinned memory on CUDA), resized, padded and normalised there in batches.

    Equals :class:`CpuPreprocessor` within one grey level: enlarging uses OpenCV's cubic kernel
    (a = -0.75), shrinking OpenCV's area weights (fractional pixel overlaps), both rounded to 8
    bits; the libraries' fixed-point cubic rounding differs by one level at some pixels
    (``tests/inference/test_preprocess.py`` bounds it; ``benchmarks/engine.py`` measures the AP
    on it). Shrinking sums as OpenCV does (along the width, then the height, each output pixel's
    few input pixels in order), not as matrix products, and matches its result exactly on the
    bundled photos. A matrix product's rounding depends on the kernel the library picks for the
    batch's shape (a CUDA run's batch of two differed from its frames resized alone) and on
    process-wide settings (``torch.set_float32_matmul_precision`` allows TF32 or bf16); these
    elementwise sums give a frame the same bits in any batch, under any such setting.
    """

    def __init__(self, stride: int, device: torch.device, flip: bool = False, bucket: int = 0):
        self.stride, self.device, self.flip, self.bucket = stride, torch.device(device), flip, bucket
        self._areas: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def pad(self, image: np.ndarray, resize: NetworkInput) -> np.ndarray:
        return image  # nothing to do ahead: the device does it all

    def _upload(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        stacked = torch.from_numpy(np.stack(images))
        if self.device.type == "cuda":
            stacked = stacked.pin_memory()
        return stacked.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()

    def _area(self, n_out: int, n_in: int) -> tuple[torch.Tensor, torch.Tensor]:
        """OpenCV's area resampling along one axis: each output pixel averages the input pixels
        it covers, partial pixels by the fraction covered. As (taps, n_out) input indices and
        weights: tap t of output o reads input ``index[t, o]`` with ``weight[t, o]`` (0 where
        o covers fewer pixels)."""
        key = (n_out, n_in)
        taps = self._areas.get(key)
        if taps is None:
            scale = n_in / n_out
            edges = torch.arange(n_out + 1, dtype=torch.float64) * scale
            first = edges[:-1].floor().long().clamp_(max=n_in - 1)
            count = int((edges[1:].ceil().long().clamp_(max=n_in) - first).max())
            pixels = first[None] + torch.arange(count)[:, None]  # (taps, n_out)
            left = pixels.double()
            overlap = (torch.minimum(edges[None, 1:], left + 1)
                       - torch.maximum(edges[None, :-1], left)).clamp_(min=0)
            taps = self._areas[key] = (pixels.clamp_(max=n_in - 1).to(self.device),
                                       (overlap / scale).to(self.device, torch.float32))
        return taps

    def _shrink(self, x: torch.Tensor, n_out: int) -> torch.Tensor:
        """(B, C, n_in, W) ``x`` area-resampled to ``n_out`` rows, tap by tap: whole rows are
        gathered, weighted and added in a fixed order."""
        index, weight = self._area(n_out, x.shape[2])
        taps = x.index_select(2, index.flatten()).unflatten(2, index.shape).mul_(weight[:, :, None])
        out = taps[:, :, 0].clone()
        for t in range(1, index.shape[0]):
            out.add_(taps[:, :, t])
        return out

    def _resize(self, x: torch.Tensor, r: NetworkInput) -> torch.Tensor:
        if (r.height, r.width) == tuple(x.shape[2:]):
            return x
        if r.width < x.shape[3]:  # along the width first, as OpenCV sums (then equal to its result)
            x = self._shrink(x.transpose(2, 3).contiguous(), r.width)
            return self._shrink(x.transpose(2, 3).contiguous(), r.height)
        return F.interpolate(x, size=(r.height, r.width), mode="bicubic", align_corners=False)

    def __call__(self, images: Sequence[np.ndarray], resizes: Sequence[NetworkInput],
                 padded: Sequence[np.ndarray] | None = None) -> torch.Tensor:
        width, height = padded_size(resizes[0], self.stride, self.bucket)
        out = torch.full((len(images), 3, height, width), float(PAD_VALUE), device=self.device)
        start = 0
        while start < len(images):  # runs of one original size (a video's frames) resize together
            end = start + 1
            while end < len(images) and images[end].shape == images[start].shape and resizes[end] == resizes[start]:
                end += 1
            r = resizes[start]
            resized = self._resize(self._upload(images[start:end]), r).round_().clamp_(0, 255)
            out[start:end, :, :r.height, :r.width] = resized
            start = end
        out = out.flip(1).div_(255.0)  # BGR -> RGB, [0, 1]
        return torch.cat([out, out.flip(3)]) if self.flip else out


def make_preprocessor(kind: str, stride: int, device: torch.device, flip: bool, bucket: int = 0):
    """"cpu" (OpenCV), "device" (torch on ``device``) or "auto" (the device's own when it is a GPU)."""
    device = torch.device(device)
    if kind == "auto":
        kind = "device" if device.type == "cuda" else "cpu"
    return (DevicePreprocessor if kind == "device" else CpuPreprocessor)(stride, device, flip, bucket)


class NetworkStage:
    """The backend network behind a shape policy.

    On CUDA, batches are padded to a static size (``static_batch``) so that every batch of a
    video replays one captured graph, the last short one included; elsewhere batches run as they
    come (padding costs real time on a CPU).
    """

    def __init__(self, network, static_batch: int | None = None):
        self.network = network
        self.static_batch = static_batch if getattr(network, "device", torch.device("cpu")).type == "cuda" else None

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
        """(heatmaps, pafs, seconds) for a (B, 3, H, W) batch; outputs keep B rows."""
        start = time.perf_counter()
        rows = batch.shape[0]
        if self.static_batch and rows < self.static_batch:
            batch = torch.cat([batch, batch.new_zeros((self.static_batch - rows, *batch.shape[1:]))])
        heatmaps, pafs = self.network(batch)
        if heatmaps.device.type == "cuda":
            torch.cuda.synchronize(heatmaps.device)
        return heatmaps[:rows], pafs[:rows], time.perf_counter() - start


class MapPostprocessor:
    """A batch's maps -> each image's maps on its reference (scale 1.0) grid: flip test averaged,
    padding cropped, scales resampled onto the reference grid and averaged
    (see :func:`~pafpose.inference.geometry.resample_maps`)."""

    def __init__(self, codec: PafCodec, flip: bool, num_scales: int):
        self.codec, self.flip, self.num_scales = codec, flip, num_scales

    def per_image(self, heatmaps: torch.Tensor, pafs: torch.Tensor, resizes: Sequence[NetworkInput],
                  refs: Sequence[NetworkInput]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """One scale's batch outputs ((B[*2], C, h, w)) -> [(heatmaps, pafs)] per image on its
        reference grid, each divided by the number of scales (sum them over scales)."""
        if self.flip:
            k = len(resizes)
            mirrored_heatmaps, mirrored_pafs = self.codec.flip_maps(heatmaps[k:], pafs[k:])
            heatmaps = (heatmaps[:k] + mirrored_heatmaps) / 2
            pafs = (pafs[:k] + mirrored_pafs) / 2
        out = []
        stride = self.codec.stride
        for row, (r, ref) in enumerate(zip(resizes, refs)):
            cols, rows = self.codec.map_size((r.width, r.height))
            hm, pf = heatmaps[row, :, :rows, :cols], pafs[row, :, :rows, :cols]
            if r != ref:
                hm, pf = resample_maps(hm, r, ref, stride), resample_maps(pf, r, ref, stride)
            if self.num_scales > 1:
                hm, pf = hm / self.num_scales, pf / self.num_scales
            out.append((hm, pf))
        return out

    @staticmethod
    def to_host(heatmaps: torch.Tensor, pafs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(C, h, w) maps as C-contiguous float32 numpy arrays, the decoder's input."""
        return (np.ascontiguousarray(heatmaps.detach().to("cpu", torch.float32).numpy()),
                np.ascontiguousarray(pafs.detach().to("cpu", torch.float32).numpy()))

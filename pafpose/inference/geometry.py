"""Where an image's pixels go: resizing to the network input, padding, map grids and back.

An original image of W0 x H0 pixels is resized by (fx, fy) = (w / W0, h / H0) to the network
input of w x h pixels (h = input_height * scale, the aspect ratio kept up to rounding of w), so
with pixel centres at integer coordinates ``x_net = (x_orig + 0.5) * fx - 0.5``. The input is
padded right and bottom with grey to a multiple of the stride; map cell (i, j) is centred on
input pixel ``(j*s + s/2 - 0.5, i*s + s/2 - 0.5)`` (see :mod:`pafpose.codec.targets`), and only
the ``ceil(h/s) x ceil(w/s)`` cells over real pixels are kept. People found on the maps are
mapped back with ``x_orig = (x_net + 0.5) / fx - 0.5``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..codec.spec import cells_to_pixels, map_size_for, pixels_to_cells

__all__ = ["NetworkInput", "PAD_VALUE", "network_input_size", "padded_size", "resize_and_pad", "resample_maps"]

#: Grey of the right/bottom padding, in 8-bit BGR (OpenPose pads with 128 as well).
PAD_VALUE = 128


@dataclass(frozen=True)
class NetworkInput:
    """How one image is fed to the network at one scale."""

    width: int  # resized width w (pixels, before padding)
    height: int  # resized height h
    fx: float  # w / W0
    fy: float  # h / H0


def network_input_size(image_size: tuple[int, int], height: float, max_width: float) -> NetworkInput:
    """How an image of (W0, H0) pixels is resized: ``height`` pixels high, the aspect ratio kept,
    narrowed further where the width would pass ``max_width``."""
    w0, h0 = image_size
    factor = min(height / h0, max_width / w0)
    width = max(1, round(w0 * factor))
    rows = max(1, round(h0 * factor))
    return NetworkInput(width, rows, width / w0, rows / h0)


def padded_size(r: NetworkInput, stride: int, bucket: int = 0) -> tuple[int, int]:
    """(W, H) of the padded network input: whole cells, then (``bucket`` > 0) rounded up to a
    multiple of ``bucket`` pixels, so that images of nearby sizes share one input shape (one
    batch, one CUDA graph); the extra grey is cropped off the maps like the rest."""
    cols, rows = map_size_for((r.width, r.height), stride)
    width, height = cols * stride, rows * stride
    if bucket:
        width, height = -(-width // bucket) * bucket, -(-height // bucket) * bucket
    return width, height


def resize_and_pad(image: np.ndarray, r: NetworkInput, stride: int, bucket: int = 0) -> np.ndarray:
    """(H, W, 3) BGR uint8 -> resized to ``r`` and grey-padded right and bottom to
    :func:`padded_size`."""
    shrink = r.width < image.shape[1]
    resized = cv2.resize(image, (r.width, r.height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    width, height = padded_size(r, stride, bucket)
    return cv2.copyMakeBorder(resized, 0, height - r.height, 0, width - r.width,
                              cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)


def _interpolation_matrix(n_out: int, n_in: int, f_out: float, f_in: float, stride: int,
                          device: torch.device) -> torch.Tensor:
    """(n_out, n_in) linear interpolation from one map grid to another along one axis.

    Output cell j is centred on a pixel of the output's network input, which is an original pixel
    and then a pixel of the input's network input (pixel centres at integers on every side), and
    so a fractional input cell; clamped to the grid.
    """
    x_out = cells_to_pixels(torch.arange(n_out, dtype=torch.float64), stride)
    x_in = (x_out + 0.5) * (f_in / f_out) - 0.5
    u = pixels_to_cells(x_in, stride).clamp(0, n_in - 1)
    lo = u.floor().long().clamp(max=n_in - 1)
    hi = (lo + 1).clamp(max=n_in - 1)
    frac = u - lo
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    matrix.index_put_((rows, lo), 1 - frac, accumulate=True)
    matrix.index_put_((rows, hi), frac, accumulate=True)
    return matrix.to(device=device, dtype=torch.float32)


def resample_maps(maps: torch.Tensor, src: NetworkInput, dst: NetworkInput, stride: int) -> torch.Tensor:
    """(C, h, w) maps on ``src``'s grid -> (C, h', w') on ``dst``'s grid (a copy)."""
    cols, rows = map_size_for((dst.width, dst.height), stride)
    if src == dst:
        return maps.clone()
    ay = _interpolation_matrix(rows, maps.shape[1], dst.fy, src.fy, stride, maps.device)
    ax = _interpolation_matrix(cols, maps.shape[2], dst.fx, src.fx, stride, maps.device)
    return torch.einsum("ri,cij,sj->crs", ay, maps, ax)

"""Ground-truth confidence maps (heatmaps) and Part Affinity Fields, exactly as OpenPose trains on.

Geometry. A map of stride ``s`` has cell (i, j) centred on input pixel
``(j*s + s/2 - 0.5, i*s + s/2 - 0.5)``; with pixel centres at integer coordinates this makes the
map an exact ``s``-times box downsampling of the image, so flips and resizes of the image map to
flips and resizes of the maps. Both heatmaps and PAFs use it.

Heatmaps: per person and keypoint a Gaussian ``exp(-0.5 d^2 / sigma^2)`` (d and sigma in input
pixels), values below 0.01 cut to 0, people combined by max; an optional background channel
``max(1 - max_k S_k, 0)`` comes last.

PAFs: for limb (j1, j2) of a person, the unit vector from j1 to j2 on every cell whose centre p
satisfies ``0 <= v.(p - x1) <= |x2 - x1|`` and ``|v_perp.(p - x1)| <= limb_width`` (measured in map
cells); where several people cover a cell their vectors are averaged. Stacked as (2L, H, W) with
channel 2l = x and 2l + 1 = y of limb l.

One implementation of each, for per-sample numpy arrays (data-loader workers) and batched torch
tensors on any device alike: the algorithms are written once against :class:`_Ops`, the handful
of array operations in which numpy and torch differ. Neither evaluates whole maps per person: each
Gaussian is restricted to a fixed window around its keypoint, and each limb to its bounding box,
with all windows of a batch processed as one flat vectorised array and scattered into the maps.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .skeleton import Skeleton, get_skeleton
from .spec import map_size_for, pixels_to_cells

try:  # torch is a hard dependency of the package, but the numpy path never needs it.
    import torch
except ImportError:  # pragma: no cover
    torch = None

__all__ = ["render_heatmaps", "render_pafs", "flip_heatmaps", "flip_pafs", "map_size_for"]

_CUTOFF = 0.01
# exp(-0.5 r^2) >= 0.01  <=>  r <= sqrt(2 ln 100): radius of a Gaussian's support in sigmas.
_SUPPORT = math.sqrt(2.0 * math.log(1.0 / _CUTOFF))


def _is_torch(x) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def _check_common(map_size, stride, width_name: str, width: float) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in map_size)
    except (TypeError, ValueError):
        raise ValueError(f"map_size must be a pair (W, H) of positive ints, got {map_size!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"map_size must be positive, got (W, H) = ({w}, {h})")
    if not (isinstance(stride, (int, np.integer)) and stride > 0):
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    if not (np.isfinite(width) and width > 0):
        raise ValueError(f"{width_name} must be a positive finite number, got {width!r}")
    return w, h


def _check_keypoints(keypoints, batched: bool) -> None:
    want = "(B, P, K, 3)" if batched else "(P, K, 3)"
    ndim = 4 if batched else 3
    if keypoints.ndim != ndim or keypoints.shape[-1] != 3:
        raise ValueError(f"keypoints must have shape {want} (x, y, visibility), got {tuple(keypoints.shape)}")
    labelled = keypoints[..., 2] > 0
    finite = np.isfinite(keypoints[..., :2]).all(-1) if not _is_torch(keypoints) else \
        torch.isfinite(keypoints[..., :2]).all(-1)
    if bool((labelled & ~finite).any()):
        raise ValueError("keypoints contain NaN or inf coordinates on labelled (v > 0) keypoints")


def _limb_pairs(limbs, num_keypoints: int) -> np.ndarray:
    pairs = np.asarray(limbs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= num_keypoints):
        raise ValueError(f"limb indices must lie in [0, {num_keypoints}), got {pairs.tolist()}")
    return pairs


# --------------------------------------------------------------------------------------------
# heatmaps
# --------------------------------------------------------------------------------------------


class _Ops:
    """numpy's spelling of what the renderers need; :class:`_TorchOps` has torch's."""

    floor, ceil, exp, abs, minimum, maximum, where = map(staticmethod, (
        np.floor, np.ceil, np.exp, np.abs, np.minimum, np.maximum, np.where))

    def __init__(self, like=None) -> None:
        self.like = like

    def index(self, values):
        return np.asarray(values)

    def norm(self, x):
        """Euclidean length over the last axis."""
        return np.linalg.norm(x, axis=-1)

    def arange(self, n: int):
        return np.arange(n)

    def nonzero(self, mask):
        return np.nonzero(mask)

    def rint(self, x):
        return np.rint(x).astype(np.int64)

    def long(self, x):
        return x.astype(np.int64)

    def repeat(self, values, counts):
        return np.repeat(values, counts)

    def cumsum(self, x):
        return np.cumsum(x)

    def cat(self, arrays, axis: int):
        return np.concatenate(arrays, axis=axis)

    def scatter_max(self, size: int, index, values):
        out = np.zeros(size, np.float32)
        np.maximum.at(out, index, values.astype(np.float32))
        return out

    def scatter_sum(self, size: int, index, values=None):
        """Zeros of ``size`` plus each value (1 when None) at its index; float32 or counts."""
        out = np.zeros(size, np.int64 if values is None else np.float32)
        np.add.at(out, index, 1 if values is None else values.astype(np.float32))
        return out

    def background(self, maps):
        """``max(1 - max_k S_k, 0)`` of (B, K, H, W) maps as (B, 1, H, W); 1 without channels."""
        return np.maximum(1.0 - maps.max(axis=1, keepdims=True, initial=0.0), 0.0)

    def float32(self, x):
        return x.astype(np.float32, copy=False)


class _TorchOps(_Ops):
    if torch is not None:
        floor, ceil, exp, abs, minimum, maximum, where = map(staticmethod, (
            torch.floor, torch.ceil, torch.exp, torch.abs, torch.minimum, torch.maximum, torch.where))

    def index(self, values):
        return torch.as_tensor(values, device=self.like.device)

    def norm(self, x):
        return torch.linalg.vector_norm(x, dim=-1)

    def arange(self, n: int):
        return torch.arange(n, device=self.like.device)

    def nonzero(self, mask):
        return torch.nonzero(mask, as_tuple=True)

    def rint(self, x):
        return torch.round(x).long()

    def long(self, x):
        return x.long()

    def repeat(self, values, counts):
        return torch.repeat_interleave(values, counts)

    def cumsum(self, x):
        return torch.cumsum(x, 0)

    def cat(self, arrays, axis: int):
        return torch.cat(arrays, dim=axis)

    def scatter_max(self, size: int, index, values):
        out = torch.zeros(size, dtype=torch.float32, device=self.like.device)
        return out.scatter_reduce_(0, index, values.float(), reduce="amax")

    def scatter_sum(self, size: int, index, values=None):
        out = torch.zeros(size, dtype=self.like.dtype, device=self.like.device)
        return out.index_add_(0, index, torch.ones_like(index, dtype=out.dtype) if values is None else values)

    def background(self, maps):
        if not maps.shape[1]:
            return torch.ones(maps.shape[0], 1, *maps.shape[2:], device=maps.device)
        return (1.0 - maps.amax(dim=1, keepdim=True)).clamp_min(0.0)

    def float32(self, x):
        return x.float()


def _batched(keypoints):
    """(keypoints as a (B, P, K, 3) batch, its ops): torch tensors in float32 as given, numpy
    arrays in float64 as one-sample batches."""
    if _is_torch(keypoints):
        _check_keypoints(keypoints, batched=True)
        keypoints = keypoints.to(torch.float32)
        return keypoints, _TorchOps(keypoints)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    _check_keypoints(keypoints, batched=False)
    return keypoints[None], _Ops(keypoints)


def render_heatmaps(keypoints: np.ndarray | torch.Tensor, map_size: tuple[int, int], stride: int,
                    sigma: float, background: bool = True) -> np.ndarray | torch.Tensor:
    """Gaussian confidence maps.

    Args:
        keypoints (np.ndarray | torch.Tensor): (P, K, 3) numpy array of x, y, v in input pixels
            (v = COCO visibility; only v > 0 is drawn), or a (B, P, K, 3) torch tensor on any
            device.
        map_size (tuple[int, int]): (W, H) of the maps, in cells.
        stride (int): input pixels per map cell.
        sigma (float): Gaussian spread in input pixels.
        background (bool): append the background channel.

    Returns:
        np.ndarray | torch.Tensor: float32 (K[+1], H, W) numpy array, or (B, K[+1], H, W) tensor
        on the keypoints' device.
    """
    w, h = _check_common(map_size, stride, "sigma", sigma)
    batch, ops = _batched(keypoints)
    maps = _heatmaps(batch, ops, w, h, stride, float(sigma), background)
    return maps if _is_torch(keypoints) else maps[0]


def _gaussian_window(sigma: float, stride: int) -> np.ndarray:
    """Offsets (in cells) of a window wide enough to hold a Gaussian's support around any point."""
    radius = int(math.ceil(sigma * _SUPPORT / stride))
    return np.arange(-radius, radius + 1)


def _heatmaps(kp, ops: _Ops, w: int, h: int, stride: int, sigma: float, background: bool):
    batch, _, num_kp, _ = kp.shape
    b, person, joint = ops.nonzero(kp[..., 2] > 0)
    xy = pixels_to_cells(kp[b, person, joint, :2], stride)  # (N, 2)
    offsets = ops.index(_gaussian_window(sigma, stride))
    cols = ops.rint(xy[:, :1]) + offsets  # (N, R)
    rows = ops.rint(xy[:, 1:]) + offsets
    scale = -0.5 * (stride / sigma) ** 2
    gx = ops.exp(scale * (cols - xy[:, :1]) ** 2)  # separable Gaussian
    gy = ops.exp(scale * (rows - xy[:, 1:]) ** 2)
    value = gy[:, :, None] * gx[:, None, :]  # (N, R, R)
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    inside &= value >= _CUTOFF
    n, r, c = ops.nonzero(inside)
    flat = ((b[n] * num_kp + joint[n]) * h + rows[n, r]) * w + cols[n, c]
    maps = ops.scatter_max(batch * num_kp * h * w, flat, value[n, r, c]).reshape(batch, num_kp, h, w)
    return ops.cat([maps, ops.background(maps)], 1) if background else maps


# --------------------------------------------------------------------------------------------
# part affinity fields
# --------------------------------------------------------------------------------------------


def render_pafs(keypoints: np.ndarray | torch.Tensor, limbs: Sequence[tuple[int, int]],
                map_size: tuple[int, int], stride: int, limb_width: float) -> np.ndarray | torch.Tensor:
    """Part Affinity Fields.

    Args:
        keypoints (np.ndarray | torch.Tensor): (P, K, 3) numpy array of x, y, v in input pixels,
            or a (B, P, K, 3) tensor.
        limbs (Sequence[tuple[int, int]]): L pairs (j1, j2) of keypoint indices; each field
            points from j1 to j2.
        map_size (tuple[int, int]): (W, H) of the maps, in cells.
        stride (int): input pixels per map cell.
        limb_width (float): half-width sigma_c of a limb, in map cells.

    Returns:
        np.ndarray | torch.Tensor: float32 (2L, H, W) numpy array, or (B, 2L, H, W) tensor on the
        keypoints' device; channel 2l = x and 2l + 1 = y of limb l.
    """
    w, h = _check_common(map_size, stride, "limb_width", limb_width)
    batch, ops = _batched(keypoints)
    pairs = _limb_pairs(limbs, batch.shape[-2])
    fields = _pafs(batch, ops, pairs, w, h, stride, float(limb_width))
    return fields if _is_torch(keypoints) else fields[0]


def _limb_boxes(p1, p2, width: float, w: int, h: int, ops: _Ops):
    """Inclusive integer cell bounds (x0, y0, x1, y1) of each limb's rectangle, clipped to the map."""
    lo = ops.long(ops.floor(ops.minimum(p1, p2) - width))
    hi = ops.long(ops.ceil(ops.maximum(p1, p2) + width))
    return lo[:, 0].clip(0, w - 1), lo[:, 1].clip(0, h - 1), hi[:, 0].clip(0, w - 1), hi[:, 1].clip(0, h - 1)


def _pafs(kp, ops: _Ops, pairs: np.ndarray, w: int, h: int, stride: int, width: float):
    batch, num_limbs = kp.shape[0], len(pairs)
    idx = ops.index(pairs)
    a, b = kp[:, :, idx[:, 0]], kp[:, :, idx[:, 1]]  # (B, P, L, 3)
    p1, p2 = pixels_to_cells(a[..., :2], stride), pixels_to_cells(b[..., :2], stride)
    length = ops.norm(p2 - p1)
    valid = (a[..., 2] > 0) & (b[..., 2] > 0) & (length > 1e-8)
    bi, _, limb = ops.nonzero(valid)
    p1, p2, length = p1[valid], p2[valid], length[valid]
    unit = (p2 - p1) / length[:, None]
    x0, y0, x1, y1 = _limb_boxes(p1, p2, width, w, h, ops)
    box_w, box_h = x1 - x0 + 1, y1 - y0 + 1
    # Limbs wholly outside the map get an empty box.
    size = ops.where((x1 >= x0) & (y1 >= y0), box_w * box_h, 0)
    # One flat, ragged list of every cell of every box: item -> (box, local index within the box).
    box = ops.repeat(ops.arange(len(limb)), size)
    local = ops.arange(box.shape[0]) - ops.repeat(ops.cumsum(size) - size, size)
    col = x0[box] + local % box_w[box]
    row = y0[box] + local // box_w[box]
    dx, dy = col - p1[box, 0], row - p1[box, 1]
    ux, uy = unit[box, 0], unit[box, 1]
    along = ux * dx + uy * dy
    across = ops.abs(uy * dx - ux * dy)
    hit = (along >= 0) & (along <= length[box]) & (across <= width)
    cell = row[hit] * w + col[hit]
    pair = bi[box[hit]] * num_limbs + limb[box[hit]]  # (sample, limb) of each hit
    # Summed straight into the output layout (B, L, x|y, H*W); where several people cover a
    # cell, each adds its vector divided by their count, so the sum is their average.
    covering = pair * h * w + cell
    share = 1.0 / ops.scatter_sum(batch * num_limbs * h * w, covering)[covering]
    xy = ops.cat([2 * pair * h * w + cell, (2 * pair + 1) * h * w + cell], 0)
    fields = ops.scatter_sum(batch * 2 * num_limbs * h * w, xy, ops.cat([ux[hit] * share, uy[hit] * share], 0))
    return ops.float32(fields).reshape(batch, 2 * num_limbs, h, w)


# --------------------------------------------------------------------------------------------
# flips
# --------------------------------------------------------------------------------------------


def flip_heatmaps(heatmaps: np.ndarray | torch.Tensor, skeleton: str | Skeleton) -> np.ndarray | torch.Tensor:
    """Maps of a mirrored image from those of the original.

    Columns are reversed and left/right channels swapped; a trailing background channel stays.

    Args:
        heatmaps (np.ndarray | torch.Tensor): (K[+1], H, W) or (B, K[+1], H, W).
        skeleton (str | Skeleton): the keypoint layout of the K channels.

    Returns:
        np.ndarray | torch.Tensor: same shape and type as ``heatmaps`` (a new array).
    """
    sk = get_skeleton(skeleton)
    perm = list(sk.flip) + list(range(sk.num_keypoints, heatmaps.shape[-3]))
    flipped = heatmaps[..., perm, :, :]
    return flipped.flip(-1) if _is_torch(flipped) else flipped[..., ::-1].copy()


def flip_pafs(pafs: np.ndarray | torch.Tensor, skeleton: str | Skeleton) -> np.ndarray | torch.Tensor:
    """PAFs of a mirrored image from those of the original.

    Columns are reversed, mirrored limbs swapped, and x components negated.

    Args:
        pafs (np.ndarray | torch.Tensor): (2L, H, W) or (B, 2L, H, W), x/y channel pairs in the
            skeleton's limb order.
        skeleton (str | Skeleton): the layout whose limbs the channels follow.

    Returns:
        np.ndarray | torch.Tensor: same shape and type as ``pafs`` (a new array).
    """
    sk = get_skeleton(skeleton)
    flipped = pafs[..., list(sk.paf_flip), :, :]
    flipped = flipped.flip(-1) if _is_torch(flipped) else flipped[..., ::-1].copy()
    flipped[..., 0::2, :, :] *= -1
    return flipped

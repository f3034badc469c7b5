"""Ground-truth confidence maps (heatmaps) and Part Affinity Fields, exactly as OpenPose trains on.

Geometry: :mod:`pafpose.codec.spec`'s (cell (i, j) of a stride-``s`` map is centred on input
pixel ``(j*s + s/2 - 0.5, i*s + s/2 - 0.5)``, an exact ``s``-times box downsampling of the image);
both heatmaps and PAFs use its helpers.

Heatmaps: per person and keypoint a Gaussian ``exp(-0.5 d^2 / sigma^2)`` (d and sigma in input
pixels), values below 0.01 cut to 0, people combined by max; an optional background channel
``max(1 - max_k S_k, 0)`` comes last.

PAFs: for limb (j1, j2) of a person, the unit vector from j1 to j2 on every cell whose centre p
satisfies ``0 <= v.(p - x1) <= |x2 - x1|`` and ``|v_perp.(p - x1)| <= limb_width`` (measured in map
cells); where several people cover a cell their vectors are averaged. Stacked as (2L, H, W) with
channel 2l = x and 2l + 1 = y of limb l.

Two implementations: a per-sample numpy one for data-loader workers and a batched torch one that
runs on any device. Neither evaluates whole maps per person: each Gaussian is restricted to a
fixed window around its keypoint, and each limb to its bounding box, with all windows of a sample
(or batch) processed as one flat vectorised array and scattered into the maps.
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
    if _is_torch(keypoints):
        _check_keypoints(keypoints, batched=True)
        return _heatmaps_torch(keypoints, w, h, stride, float(sigma), background)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    _check_keypoints(keypoints, batched=False)
    return _heatmaps_numpy(keypoints, w, h, stride, float(sigma), background)


def _gaussian_window(sigma: float, stride: int) -> np.ndarray:
    """Offsets (in cells) of a window wide enough to hold a Gaussian's support around any point."""
    radius = int(math.ceil(sigma * _SUPPORT / stride))
    return np.arange(-radius, radius + 1)


def _heatmaps_numpy(kp: np.ndarray, w: int, h: int, stride: int, sigma: float, background: bool):
    num_kp = kp.shape[1]
    maps = np.zeros((num_kp, h, w), dtype=np.float32)
    person, joint = np.nonzero(kp[..., 2] > 0)
    if len(person):
        xy = pixels_to_cells(kp[person, joint, :2], stride)  # (N, 2)
        offsets = _gaussian_window(sigma, stride)
        cols = np.rint(xy[:, :1]).astype(np.int64) + offsets  # (N, R)
        rows = np.rint(xy[:, 1:]).astype(np.int64) + offsets
        scale = -0.5 * (stride / sigma) ** 2
        gx = np.exp(scale * (cols - xy[:, :1]) ** 2)  # separable Gaussian
        gy = np.exp(scale * (rows - xy[:, 1:]) ** 2)
        value = gy[:, :, None] * gx[:, None, :]  # (N, R, R)
        inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
        inside &= value >= _CUTOFF
        n, r, c = np.nonzero(inside)
        flat = (joint[n] * h + rows[n, r]) * w + cols[n, c]
        np.maximum.at(maps.reshape(-1), flat, value[n, r, c].astype(np.float32))
    if background:
        bg = 1.0 - maps.max(axis=0, initial=0.0)
        maps = np.concatenate([maps, np.maximum(bg, 0.0)[None]], axis=0)
    return maps


def _heatmaps_torch(kp, w: int, h: int, stride: int, sigma: float, background: bool):
    batch, _, num_kp, _ = kp.shape
    kp = kp.to(torch.float32)
    maps = torch.zeros(batch * num_kp * h * w, dtype=torch.float32, device=kp.device)
    b, person, joint = torch.nonzero(kp[..., 2] > 0, as_tuple=True)
    if len(b):
        xy = pixels_to_cells(kp[b, person, joint, :2], stride)
        offsets = torch.as_tensor(_gaussian_window(sigma, stride), device=kp.device)
        cols = torch.round(xy[:, :1]).long() + offsets
        rows = torch.round(xy[:, 1:]).long() + offsets
        scale = -0.5 * (stride / sigma) ** 2
        gx = torch.exp(scale * (cols - xy[:, :1]) ** 2)
        gy = torch.exp(scale * (rows - xy[:, 1:]) ** 2)
        value = gy[:, :, None] * gx[:, None, :]
        inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
        inside &= value >= _CUTOFF
        n, r, c = torch.nonzero(inside, as_tuple=True)
        flat = ((b[n] * num_kp + joint[n]) * h + rows[n, r]) * w + cols[n, c]
        maps.scatter_reduce_(0, flat, value[n, r, c], reduce="amax")
    maps = maps.view(batch, num_kp, h, w)
    if background:
        bg = (1.0 - maps.amax(dim=1, keepdim=True)).clamp_min(0.0) if num_kp else \
            torch.ones(batch, 1, h, w, device=kp.device)
        maps = torch.cat([maps, bg], dim=1)
    return maps


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
    if _is_torch(keypoints):
        _check_keypoints(keypoints, batched=True)
        pairs = _limb_pairs(limbs, keypoints.shape[-2])
        return _pafs_torch(keypoints, pairs, w, h, stride, float(limb_width))
    keypoints = np.asarray(keypoints, dtype=np.float64)
    _check_keypoints(keypoints, batched=False)
    pairs = _limb_pairs(limbs, keypoints.shape[-2])
    return _pafs_numpy(keypoints, pairs, w, h, stride, float(limb_width))


def _limb_boxes(p1, p2, width: float, w: int, h: int, xp):
    """Inclusive integer cell bounds (x0, y0, x1, y1) of each limb's rectangle, clipped to the map."""
    lo = xp.floor(xp.minimum(p1, p2) - width)
    hi = xp.ceil(xp.maximum(p1, p2) + width)
    x0, y0 = lo[:, 0].clip(0, w - 1), lo[:, 1].clip(0, h - 1)
    x1, y1 = hi[:, 0].clip(0, w - 1), hi[:, 1].clip(0, h - 1)
    return x0, y0, x1, y1


def _pafs_numpy(kp: np.ndarray, pairs: np.ndarray, w: int, h: int, stride: int, width: float):
    num_limbs = len(pairs)
    out = np.zeros((2 * num_limbs, h, w), dtype=np.float32)
    if not num_limbs or not len(kp):
        return out
    a, b = kp[:, pairs[:, 0]], kp[:, pairs[:, 1]]  # (P, L, 3)
    p1, p2 = pixels_to_cells(a[..., :2], stride), pixels_to_cells(b[..., :2], stride)
    length = np.linalg.norm(p2 - p1, axis=-1)
    valid = (a[..., 2] > 0) & (b[..., 2] > 0) & (length > 1e-8)
    _, limb = np.nonzero(valid)
    if not len(limb):
        return out
    p1, p2, length = p1[valid], p2[valid], length[valid]
    unit = (p2 - p1) / length[:, None]
    x0, y0, x1, y1 = (v.astype(np.int64) for v in _limb_boxes(p1, p2, width, w, h, np))
    box_w, box_h = x1 - x0 + 1, y1 - y0 + 1
    # Limbs wholly outside the map get an empty box.
    size = np.where((x1 >= x0) & (y1 >= y0), box_w * box_h, 0)
    # One flat, ragged list of every cell of every box: item -> (box, local index within the box).
    box = np.repeat(np.arange(len(limb)), size)
    local = np.arange(box.size) - np.repeat(np.cumsum(size) - size, size)
    col = x0[box] + local % box_w[box]
    row = y0[box] + local // box_w[box]
    dx, dy = col - p1[box, 0], row - p1[box, 1]
    ux, uy = unit[box, 0], unit[box, 1]
    along = ux * dx + uy * dy
    across = np.abs(uy * dx - ux * dy)
    hit = (along >= 0) & (along <= length[box]) & (across <= width)
    cell = row[hit] * w + col[hit]
    channel_x = 2 * limb[box[hit]]
    count = np.bincount(channel_x * (h * w) + cell)  # people covering each (limb, cell)
    share = 1.0 / count[channel_x * (h * w) + cell]
    # Each person adds its vector / count, so the sum over people is their average.
    np.add.at(out.reshape(-1), channel_x * (h * w) + cell, (ux[hit] * share).astype(np.float32))
    np.add.at(out.reshape(-1), (channel_x + 1) * (h * w) + cell, (uy[hit] * share).astype(np.float32))
    return out


def _pafs_torch(kp, pairs: np.ndarray, w: int, h: int, stride: int, width: float):
    batch = kp.shape[0]
    num_limbs = len(pairs)
    device = kp.device
    if not num_limbs or not kp.shape[1]:
        return torch.zeros(batch, 2 * num_limbs, h, w, device=device)
    kp = kp.to(torch.float32)
    idx = torch.as_tensor(pairs, device=device)
    a, b = kp[:, :, idx[:, 0]], kp[:, :, idx[:, 1]]  # (B, P, L, 3)
    p1, p2 = pixels_to_cells(a[..., :2], stride), pixels_to_cells(b[..., :2], stride)
    length = torch.linalg.vector_norm(p2 - p1, dim=-1)
    valid = (a[..., 2] > 0) & (b[..., 2] > 0) & (length > 1e-8)
    bi, _, limb = torch.nonzero(valid, as_tuple=True)
    p1, p2, length = p1[valid], p2[valid], length[valid]
    unit = (p2 - p1) / length[:, None].clamp_min(1e-8)
    x0, y0, x1, y1 = (v.long() for v in _limb_boxes(p1, p2, width, w, h, torch))
    box_w, box_h = x1 - x0 + 1, y1 - y0 + 1
    size = torch.where((x1 >= x0) & (y1 >= y0), box_w * box_h, 0)
    box = torch.repeat_interleave(torch.arange(len(limb), device=device), size)
    local = torch.arange(box.numel(), device=device) - torch.repeat_interleave(
        torch.cumsum(size, 0) - size, size)
    col = x0[box] + local % box_w[box]
    row = y0[box] + local // box_w[box]
    dx, dy = col - p1[box, 0], row - p1[box, 1]
    ux, uy = unit[box, 0], unit[box, 1]
    along = ux * dx + uy * dy
    across = (uy * dx - ux * dy).abs()
    hit = (along >= 0) & (along <= length[box]) & (across <= width)
    flat = ((bi[box[hit]] * num_limbs + limb[box[hit]]) * h + row[hit]) * w + col[hit]
    cells = batch * num_limbs * h * w
    acc = torch.zeros(3, cells, device=device)
    acc[0].index_add_(0, flat, ux[hit])
    acc[1].index_add_(0, flat, uy[hit])
    acc[2].index_add_(0, flat, torch.ones_like(ux[hit]))
    fields = (acc[:2] / acc[2].clamp_min(1.0)).view(2, batch, num_limbs, h, w)
    return fields.permute(1, 2, 0, 3, 4).reshape(batch, 2 * num_limbs, h, w)


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

"""Running a pose network on whole images: resize, pad, multi-scale and flip test, decode.

Geometry. An original image of W0 x H0 pixels is resized by (fx, fy) = (w / W0, h / H0) to the
network input of w x h pixels (h = input_height * scale, the aspect ratio kept up to rounding of
w), so with pixel centres at integer coordinates ``x_net = (x_orig + 0.5) * fx - 0.5``. The
input is padded right and bottom with grey to a multiple of the stride; map cell (i, j) is
centred on input pixel ``(j*s + s/2 - 0.5, i*s + s/2 - 0.5)`` (see :mod:`pafpose.codec.targets`), and
only the ``ceil(h/s) x ceil(w/s)`` cells over real pixels are kept.

Multi-scale search runs every scale and resamples each scale's maps onto the map grid of the
reference scale 1.0, cell centre onto cell centre through original-image coordinates (separable
linear interpolation), then averages. The flip test mirrors the *padded* input, whose width is a
multiple of the stride, so reversing map columns is an exact inverse; the mirrored maps are
un-flipped with the keypoint and limb permutations and negated PAF x (``PafCodec.flip_maps``).
People are decoded on the averaged maps and mapped back with ``x_orig = (x_net + 0.5) / fx - 0.5``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch

from ..codec.head import PafCodec
from ..codec.spec import cells_to_pixels, map_size_for, pixels_to_cells
from ..codec.people import Person
from ..device import check_device
from ..errors import UserError
from ..io.bundled import DEFAULT_WEIGHTS
from ..io.images import to_bgr8

__all__ = ["Predictor", "StageTimes", "NetworkInput", "PAD_VALUE", "resample_maps", "to_original_pixels",
           "as_bgr_image", "network_input_size", "resize_and_pad"]

#: Grey of the right/bottom padding, in 8-bit BGR (OpenPose pads with 128 as well).
PAD_VALUE = 128


@dataclass
class StageTimes:
    """Seconds spent per stage, accumulated over calls (reset by assigning a new one)."""

    preprocess: float = 0.0
    network: float = 0.0
    decode: float = 0.0
    images: int = 0


@dataclass(frozen=True)
class NetworkInput:
    """How one image is fed to the network at one scale."""

    width: int  # resized width w (pixels, before padding)
    height: int  # resized height h
    fx: float  # w / W0
    fy: float  # h / H0


class Predictor:
    """Pose estimation on BGR uint8 images, returning people in original-image pixels.

    Args:
        weights_or_model: a checkpoint path or bundled weight name (default: the bundled
            COCO-trained ``mobilenet-thin-coco``), an ``.onnx``
            file (onnx backend), or a model object with ``infer`` (torch backend).
        device: "cpu", "cuda", "cuda:1", ... (the onnx backend runs on onnxruntime's CPU or
            CUDA provider accordingly).
        input_height: network input height at scale 1.0, in pixels; None = the checkpoint's
            recommended height (its "inference" entry), else 368 as in OpenPose.
        scales: multi-scale search factors of ``input_height`` (the paper used 0.5, 1, 1.5, 2).
        flip: also run the mirrored image and average (flip test).
        backend: "torch", "onnx", "openvino", or "auto": OpenVINO on a CPU where it is installed
            (``pafpose[openvino]``), else onnxruntime for an ``.onnx`` file and torch for the rest
            (:func:`pafpose.inference.backends.open_network`).
        precision: "fp32", "bf16", "fp16" (CUDA), "int8" (OpenVINO), or "auto": the fastest one
            this machine supports that keeps the accuracy contract recorded with the weights
            (within 0.01 AP of fp32; see :mod:`pafpose.inference.backends`), else fp32.
        threads: CPU threads of the network (default: the backend's choice, all cores).
        cache_dir: where converted networks are kept (default ``~/.cache/pafpose``).
        decode_params: keyword arguments passed to :func:`pafpose.codec.decode.decode`, on top of
            the decoder settings the checkpoint recommends (its "inference" entry's "decode").
        max_people: keep at most this many people per image, the highest scored (None: all).
        max_width: widest network input at scale 1.0; wider (panoramic or huge) images are
            downscaled further so their width fits, bounding memory and time.
        batch_size: images per network call in :meth:`predict_batch` (default: 1 on a CPU, where
            batching is slower, 8 on a GPU).

    The maps are read with the network's head (:attr:`codec`): a checkpoint's or model's
    ``head``, an ONNX file's stored head; a model object without one is taken to have the default
    :class:`~pafpose.codec.head.HeadSpec`.
    """

    def __init__(self, weights_or_model: Any = DEFAULT_WEIGHTS, device: str | torch.device = "cpu",
                 input_height: int | None = None, scales: Sequence[float] = (1.0,), flip: bool = False,
                 backend: str = "auto", precision: str = "auto", decode_params: dict | None = None,
                 max_width: int = 2048, batch_size: int | None = None, max_people: int | None = None,
                 threads: int | None = None, cache_dir: str | Path | None = None):
        from .backends import open_network

        scales = tuple(float(s) for s in scales)
        if not scales or min(scales) <= 0:
            raise UserError(f"scales must be positive numbers, got {list(scales)}")
        if max_people is not None and max_people < 1:
            raise UserError(f"max_people must be at least 1, got {max_people}")
        if threads is not None and threads < 1:
            raise UserError(f"threads must be at least 1, got {threads}")
        self.device = check_device(device)
        self.max_people = max_people
        self.scales = scales
        self.flip = bool(flip)
        self.max_width = int(max_width)
        self.batch_size = max(1, int(batch_size or (1 if self.device.type == "cpu" else 8)))
        self.timings = StageTimes()
        self.network = open_network(weights_or_model, backend, precision, self.device, threads, cache_dir)
        self.recommended: dict = dict(self.network.recommended)
        self.codec = PafCodec(self.network.head)
        if self.flip and self.codec.skeleton.limb_flip is None:
            raise UserError(f"the flip test needs limbs that mirror onto each other, and the network's "
                            f"skeleton {self.codec.skeleton.name!r} has none")
        if (input_height is not None and input_height < self.codec.stride) or max_width < self.codec.stride:
            raise UserError(f"input_height and max_width must be at least the stride ({self.codec.stride})")
        self.input_height = int(input_height or self.recommended.get("input_height", 368))
        # The weights' own decoder settings (tuned on their maps) unless the caller overrides them.
        self.decode_params = {**dict(self.recommended.get("decode") or {}), **dict(decode_params or {})}

    @property
    def backend(self) -> str:
        """Where the network runs: "torch", "onnx" or "openvino"."""
        return self.network.backend

    @property
    def precision(self) -> str:
        """The precision it runs at: "fp32", "bf16", "fp16" or "int8"."""
        return self.network.precision

    # ---------------------------------------------------------------------------------------
    # public API
    # ---------------------------------------------------------------------------------------

    def predict(self, image: Any, color: str = "bgr") -> list[Person]:
        """People in one image.

        Args:
            image: an (H, W, 3) uint8 array in ``color`` order (an (H, W) gray, (H, W, 4) array
                with alpha or 16-bit array is converted), a PIL image (its own mode decides the
                colours), or an image file's path (``str`` or ``Path``; EXIF orientation applied).
            color: "bgr" (OpenCV's order, the default) or "rgb" (PIL, matplotlib, imageio) for
                arrays; ignored for paths and PIL images.

        Returns:
            list[Person]: sorted by score (best first); each ``keypoints`` is (K, 3) in the head's
            skeleton order (COCO-18 for the bundled network): x, y in original-image pixels and
            confidence (0 = missing).
        """
        return self.predict_batch([image], color=color)[0]

    __call__ = predict

    def predict_batch(self, images: Sequence[Any] | np.ndarray, color: str = "bgr") -> list[list[Person]]:
        """People per image; same-size images share network calls.

        Args:
            images: a list of N images as :meth:`predict` takes them (sizes may differ), or one
                (N, H, W, C) array.
            color: "bgr" or "rgb", for the arrays.

        Returns:
            list[list[Person]]: N lists, each as :meth:`predict` returns for that image.
        """
        if isinstance(images, np.ndarray) and images.ndim != 4:
            # Iterating one (H, W, 3) image would treat each row as an image.
            raise UserError(f"predict_batch takes a list of images (or an (N, H, W, C) array); got "
                            f"one array of shape {images.shape}: use predict() for a single image")
        if isinstance(images, (str, Path)):
            raise UserError("predict_batch takes a list of images; use predict() for one path")
        images = [as_bgr_image(im, f"image {i}", color) for i, im in enumerate(images)]
        return [self.decode_maps(heatmaps, pafs, resize) for heatmaps, pafs, resize in self._maps_batch(images)]

    def decode_maps(self, heatmaps: torch.Tensor, pafs: torch.Tensor, resize: NetworkInput) -> list[Person]:
        """People from one image's averaged maps (as :meth:`network_maps` yields them), in original pixels."""
        start = time.perf_counter()
        people = self.codec.decode(heatmaps, pafs, **self.decode_params)[:self.max_people]
        for person in people:
            to_original_pixels(person.keypoints, resize.fx, resize.fy)
        self.timings.decode += time.perf_counter() - start
        self.timings.images += 1
        return people

    def network_maps(self, images: list[np.ndarray]):
        """[(heatmaps, pafs, resize)] per BGR uint8 image: the network half of :meth:`predict_batch`,
        for pipelines that decode elsewhere (:class:`pafpose.inference.runner.Runner`)."""
        return self._maps_batch(images)

    def maps(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Averaged heatmaps and PAFs of one image (over scales and the flip test).

        The maps are those of the network at scale 1.0 with the padding cropped away, so cell
        (i, j) is centred on original pixel ``((j*s + s/2) / fx - 0.5, (i*s + s/2) / fy - 0.5)``
        with (fx, fy) from :meth:`resize_factors`.

        Args:
            image (np.ndarray): (H, W, 3) BGR uint8, converted as in :meth:`predict`.

        Returns:
            tuple[np.ndarray, np.ndarray]: float32 (K+1, h, w) heatmaps (background last) and
            (2L, h, w) PAFs of the head (19 and 38 for COCO-18), (w, h) = ``codec.map_size`` of
            the network input.
        """
        heatmaps, pafs, _ = self._maps_batch([as_bgr_image(image, "image")])[0]
        return heatmaps.cpu().numpy(), pafs.cpu().numpy()

    def resize_factors(self, image_size: tuple[int, int]) -> tuple[float, float]:
        """(fx, fy) from original (W0, H0) pixels to the scale-1.0 network input."""
        r = self._resize(image_size, 1.0)
        return r.fx, r.fy

    # ---------------------------------------------------------------------------------------
    # stages
    # ---------------------------------------------------------------------------------------

    def _resize(self, image_size: tuple[int, int], scale: float) -> NetworkInput:
        return network_input_size(image_size, self.input_height * scale, self.max_width * scale)

    def _maps_batch(self, images: list[np.ndarray]):
        """[(heatmaps, pafs, reference resize)] per image; maps are torch tensors on the device."""
        refs = [self._resize(im.shape[1::-1], 1.0) for im in images]
        sums: list[list[torch.Tensor] | None] = [None] * len(images)
        for scale in self.scales:
            resizes = [self._resize(im.shape[1::-1], scale) for im in images]
            for index, heatmaps, pafs in self._run_scale(images, resizes):
                heatmaps = resample_maps(heatmaps, resizes[index], refs[index], self.codec.stride)
                pafs = resample_maps(pafs, resizes[index], refs[index], self.codec.stride)
                if sums[index] is None:
                    sums[index] = [heatmaps, pafs]
                else:
                    sums[index][0] += heatmaps
                    sums[index][1] += pafs
        n = len(self.scales)
        return [(hm / n if n > 1 else hm, pf / n if n > 1 else pf, ref)
                for (hm, pf), ref in zip(sums, refs)]

    def _run_scale(self, images: list[np.ndarray], resizes: list[NetworkInput]):
        """Yield (image index, heatmaps (K+1, h, w), pafs (2L, h, w)) cropped to real pixels."""
        groups: dict[tuple[int, int], list[int]] = {}
        for index, r in enumerate(resizes):
            groups.setdefault(self.codec.map_size((r.width, r.height)), []).append(index)
        per_call = max(1, self.batch_size // (2 if self.flip else 1))
        for indices in groups.values():
            for start in range(0, len(indices), per_call):
                chunk = indices[start:start + per_call]
                t0 = time.perf_counter()
                batch = self._preprocess([images[i] for i in chunk], [resizes[i] for i in chunk])
                t1 = time.perf_counter()
                heatmaps, pafs = self.network(batch)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                t2 = time.perf_counter()
                if self.flip:
                    k = len(chunk)
                    mirrored_heatmaps, mirrored_pafs = self.codec.flip_maps(heatmaps[k:], pafs[k:])
                    heatmaps = (heatmaps[:k] + mirrored_heatmaps) / 2
                    pafs = (pafs[:k] + mirrored_pafs) / 2
                for row, index in enumerate(chunk):
                    cols, rows = self.codec.map_size((resizes[index].width, resizes[index].height))
                    yield index, heatmaps[row, :, :rows, :cols], pafs[row, :, :rows, :cols]
                self.timings.preprocess += t1 - t0
                self.timings.network += t2 - t1

    def _preprocess(self, images: list[np.ndarray], resizes: list[NetworkInput]) -> torch.Tensor:
        """(B[*2], 3, Hp, Wp) float32 RGB in [0, 1]: resized, grey-padded, mirrored copies last."""
        batch = np.stack([resize_and_pad(image, r, self.codec.stride) for image, r in zip(images, resizes)])
        if self.flip:
            batch = np.concatenate([batch, batch[:, :, ::-1]])
        tensor = torch.from_numpy(np.ascontiguousarray(batch[..., ::-1])).to(self.device)
        return tensor.permute(0, 3, 1, 2).float().div_(255.0)


def network_input_size(image_size: tuple[int, int], height: float, max_width: float) -> NetworkInput:
    """How an image of (W0, H0) pixels is resized: ``height`` pixels high, the aspect ratio kept,
    narrowed further where the width would pass ``max_width``."""
    w0, h0 = image_size
    factor = min(height / h0, max_width / w0)
    width = max(1, round(w0 * factor))
    rows = max(1, round(h0 * factor))
    return NetworkInput(width, rows, width / w0, rows / h0)


def resize_and_pad(image: np.ndarray, r: NetworkInput, stride: int) -> np.ndarray:
    """(H, W, 3) BGR uint8 -> resized to ``r`` and grey-padded right and bottom to whole cells."""
    shrink = r.width < image.shape[1]
    resized = cv2.resize(image, (r.width, r.height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    cols, rows = map_size_for((r.width, r.height), stride)
    return cv2.copyMakeBorder(resized, 0, rows * stride - r.height, 0, cols * stride - r.width,
                              cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)


def as_bgr_image(image: Any, name: str = "image", color: str = "bgr") -> np.ndarray:
    """(H, W, 3) BGR uint8 from an array in ``color`` order, a PIL image or an image file's path."""
    if color not in ("bgr", "rgb"):
        raise UserError(f"color must be 'bgr' or 'rgb', got {color!r}")
    if image is None:
        raise UserError(f"{name} is None: no image was given (cv2.imread returns None for a "
                        "missing or unreadable file; pafpose.io.images.read_image names the problem)")
    if isinstance(image, (str, Path)):
        from ..io.images import read_image

        return read_image(image)
    if type(image).__module__.startswith("PIL."):
        mode = getattr(image, "mode", "")
        rgb = np.asarray(image.convert("RGBA" if "A" in mode else "RGB" if mode not in ("L", "I;16", "I") else mode))
        return to_bgr8(rgb[..., [2, 1, 0, 3][:rgb.shape[2]]] if rgb.ndim == 3 else rgb, name=name)
    array = np.asarray(image)
    if color == "rgb" and array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[..., [2, 1, 0, 3][:array.shape[2]]]
    return to_bgr8(array, name=name)


def to_original_pixels(keypoints: np.ndarray, fx: float, fy: float) -> None:
    """In place: (K, 3) network-input x, y of found keypoints (score > 0) -> original pixels.

    ``fx``, ``fy``: the resize factors from the original image to the network input
    (:meth:`Predictor.resize_factors`); pixel centres are at integer coordinates on both sides.
    """
    found = keypoints[:, 2] > 0
    keypoints[found, 0] = (keypoints[found, 0] + 0.5) / fx - 0.5
    keypoints[found, 1] = (keypoints[found, 1] + 0.5) / fy - 0.5


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

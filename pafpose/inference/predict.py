"""Pose estimation on whole images: the engine's stages chained synchronously.

A :class:`Predictor` is the preprocessor, the network stage, the map post-processing and the
people decoder of :mod:`pafpose.inference.stages` and :mod:`pafpose.inference.decoding`, called
one after the other; the :class:`~pafpose.inference.runner.Runner` runs the same objects as a
pipeline. Geometry (resizing, padding, the map grids, multi-scale resampling) is
:mod:`pafpose.inference.geometry`'s.

Multi-scale search runs every scale and resamples each scale's maps onto the map grid of the
reference scale 1.0, then averages. The flip test mirrors the *padded* input, whose width is a
multiple of the stride, so reversing map columns is an exact inverse; the mirrored maps are
un-flipped with the keypoint and limb permutations and negated PAF x (``PafCodec.flip_maps``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..codec.decode import DecodeParams
from ..codec.head import PafCodec
from ..codec.people import Person
from ..device import check_device
from ..errors import UserError
from ..io.bundled import DEFAULT_WEIGHTS
from ..io.images import read_image, to_bgr8
from .backends import open_network
from .decoding import PeopleDecoder, to_original_pixels
from .geometry import PAD_VALUE, NetworkInput, network_input_size, padded_size, resample_maps, resize_and_pad
from .settings import InferenceSettings
from .stages import MapPostprocessor, NetworkStage, StageTimes, make_preprocessor

__all__ = ["Predictor", "ImageMaps", "StageTimes", "NetworkInput", "PAD_VALUE", "resample_maps",
           "to_original_pixels", "as_bgr_image", "network_input_size", "padded_size", "resize_and_pad"]


@dataclass
class ImageMaps:
    """One image's maps, averaged over scales and the flip test, on its scale-1.0 grid.

    ``heatmaps`` (K+1, h, w) and ``pafs`` (2L, h, w) float32, C-contiguous; ``resize`` how the
    image was fed at scale 1.0; ``times`` its share of the preprocessing and network time.
    """

    heatmaps: np.ndarray
    pafs: np.ndarray
    resize: NetworkInput
    times: StageTimes


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
        decode_params: :class:`~pafpose.codec.decode.DecodeParams` fields (a dict) overriding
            the decoder settings the weights recommend (:attr:`settings`), or a whole DecodeParams.
        max_people: keep at most this many people per image, the highest scored (None: all).
        max_width: widest network input at scale 1.0; wider (panoramic or huge) images are
            downscaled further so their width fits, bounding memory and time.
        batch_size: images per network call in :meth:`predict_batch` (default: 1 on a CPU, where
            batching is slower, 8 on a GPU).
        preprocess: "cpu" (OpenCV on the host), "device" (torch on the network's device) or
            "auto": the device's own on a GPU (see :mod:`pafpose.inference.stages`).
        cuda_graphs: on CUDA, replay the torch network as a CUDA graph per input shape.
        bucket: pad network inputs up to a multiple of this many pixels, so that images of
            nearby sizes share one shape (one batch, one CUDA graph); "auto": 64 on a GPU, 0 (whole
            cells only) on a CPU, where padding costs real time.

    The maps are read with the network's head (:attr:`codec`): a checkpoint's or model's
    ``head``, an ONNX file's stored head; a model object without one is taken to have the default
    :class:`~pafpose.codec.head.HeadSpec`.
    """

    def __init__(self, weights_or_model: Any = DEFAULT_WEIGHTS, device: str | torch.device = "cpu",
                 input_height: int | None = None, scales: Sequence[float] = (1.0,), flip: bool = False,
                 backend: str = "auto", precision: str = "auto", decode_params: dict | None = None,
                 max_width: int = 2048, batch_size: int | None = None, max_people: int | None = None,
                 threads: int | None = None, cache_dir: str | Path | None = None,
                 preprocess: str = "auto", cuda_graphs: bool = True, bucket: int | str = "auto"):
        scales = tuple(float(s) for s in scales)
        if not scales or min(scales) <= 0:
            raise UserError(f"scales must be positive numbers, got {list(scales)}")
        if max_people is not None and max_people < 1:
            raise UserError(f"max_people must be at least 1, got {max_people}")
        if threads is not None and threads < 1:
            raise UserError(f"threads must be at least 1, got {threads}")
        self.device = check_device(device)
        self.threads = threads
        self.scales = scales
        self.flip = bool(flip)
        self.max_width = int(max_width)
        self.batch_size = max(1, int(batch_size or (1 if self.device.type == "cpu" else 8)))
        if preprocess not in ("auto", "cpu", "device"):
            raise UserError(f"preprocess must be auto, cpu or device, got {preprocess!r}")
        #: Seconds per stage summed over the images of :meth:`predict_batch`, and their number.
        self.timings = StageTimes()
        self.images_done = 0
        self.network = open_network(weights_or_model, backend, precision, self.device, threads, cache_dir,
                                    cuda_graphs=cuda_graphs)
        #: What the weights recommend (input height, decoder settings, precision record).
        self.settings: InferenceSettings = self.network.settings
        self.codec = PafCodec(self.network.head)
        if self.flip and self.codec.skeleton.limb_flip is None:
            raise UserError(f"the flip test needs limbs that mirror onto each other, and the network's "
                            f"skeleton {self.codec.skeleton.name!r} has none")
        if (input_height is not None and input_height < self.codec.stride) or max_width < self.codec.stride:
            raise UserError(f"input_height and max_width must be at least the stride ({self.codec.stride})")
        self.input_height = int(input_height or self.settings.input_height)
        # The weights' own decoder settings (tuned on their maps) unless the caller overrides them.
        params = decode_params if isinstance(decode_params, DecodeParams) else \
            self.settings.decode.with_overrides(dict(decode_params or {}))
        self.decoder = PeopleDecoder(self.codec.spec, params, max_people)
        if bucket == "auto":
            bucket = 64 if self.device.type == "cuda" else 0
        if not isinstance(bucket, int) or bucket < 0 or bucket % self.codec.stride:
            raise UserError(f"bucket must be a multiple of the stride ({self.codec.stride}) or 0, got {bucket!r}")
        self.bucket = bucket
        self.preprocessor = make_preprocessor(preprocess, self.codec.stride, self.device, self.flip, bucket)
        self.network_stage = NetworkStage(self.network, static_batch=self.batch_size * (2 if self.flip else 1))
        self.postprocessor = MapPostprocessor(self.codec, self.flip, len(self.scales))

    @property
    def backend(self) -> str:
        """Where the network runs: "torch", "onnx" or "openvino"."""
        return self.network.backend

    @property
    def precision(self) -> str:
        """The precision it runs at: "fp32", "bf16", "fp16" or "int8"."""
        return self.network.precision

    @property
    def max_people(self) -> int | None:
        """At most this many people per image, the highest scored (None: all)."""
        return self.decoder.max_people

    @property
    def decode_params(self) -> DecodeParams:
        """The decoder settings in use (the weights' own, with the caller's overrides)."""
        return self.decoder.params

    @decode_params.setter
    def decode_params(self, params: DecodeParams | dict) -> None:
        if isinstance(params, dict):
            params = self.settings.decode.with_overrides(params)
        self.decoder = dataclasses.replace(self.decoder, params=params)

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
        results = []
        for maps in self.image_maps(images):
            people, seconds = self.decoder.timed(maps.heatmaps, maps.pafs, maps.resize)
            maps.times.decode = seconds
            self.timings += maps.times
            self.images_done += 1
            results.append(people)
        return results

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
        maps = self.image_maps([as_bgr_image(image, "image")])[0]
        return maps.heatmaps, maps.pafs

    def resize_factors(self, image_size: tuple[int, int]) -> tuple[float, float]:
        """(fx, fy) from original (W0, H0) pixels to the scale-1.0 network input."""
        r = self.resize(image_size, 1.0)
        return r.fx, r.fy

    def input_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """(W, H) of the padded network input at scale 1.0: images that share it share batches."""
        return padded_size(self.resize(image_size), self.codec.stride, self.bucket)

    def resize(self, image_size: tuple[int, int], scale: float = 1.0) -> NetworkInput:
        """How an image of (W0, H0) pixels is fed to the network at ``scale``."""
        return network_input_size(image_size, self.input_height * scale, self.max_width * scale)

    # ---------------------------------------------------------------------------------------
    # the stages, chained
    # ---------------------------------------------------------------------------------------

    def image_maps(self, images: Sequence[np.ndarray], padded: Sequence[np.ndarray | None] | None = None
                   ) -> list[ImageMaps]:
        """Each BGR uint8 image's maps on the host, through preprocessing, the network and the
        map post-processing; ``padded``: images already resized and padded for scale 1.0 by
        ``preprocessor.pad`` (a reader thread does this ahead in the Runner)."""
        refs = [self.resize(im.shape[1::-1], 1.0) for im in images]
        sums: list[list | None] = [None] * len(images)
        times = [StageTimes() for _ in images]
        for scale in self.scales:
            resizes = [self.resize(im.shape[1::-1], scale) for im in images]
            groups: dict[tuple[int, int], list[int]] = {}
            for index, r in enumerate(resizes):
                groups.setdefault(padded_size(r, self.codec.stride, self.bucket), []).append(index)
            for indices in groups.values():
                for start in range(0, len(indices), self.images_per_call):
                    chunk = indices[start:start + self.images_per_call]
                    ready = [padded[i] for i in chunk] if padded is not None and scale == 1.0 \
                        and all(padded[i] is not None for i in chunk) else None
                    t0 = _now()
                    batch = self.preprocessor([images[i] for i in chunk], [resizes[i] for i in chunk], ready)
                    t1 = _now()
                    heatmaps, pafs, network_seconds = self.network_stage(batch)
                    maps = self.postprocessor.per_image(heatmaps, pafs, [resizes[i] for i in chunk],
                                                        [refs[i] for i in chunk])
                    for index, (hm, pf) in zip(chunk, maps):
                        times[index].preprocess += (t1 - t0) / len(chunk)
                        times[index].network += network_seconds / len(chunk)
                        if sums[index] is None:
                            sums[index] = [hm, pf]
                        else:
                            sums[index][0] = sums[index][0] + hm
                            sums[index][1] = sums[index][1] + pf
        out = []
        for (hm, pf), ref, t in zip(sums, refs, times):
            t0 = _now()
            heatmaps, pafs = self.postprocessor.to_host(hm, pf)
            t.network += _now() - t0
            out.append(ImageMaps(heatmaps, pafs, ref, t))
        return out

    @property
    def images_per_call(self) -> int:
        """Images per network call (the flip test doubles each)."""
        return max(1, self.batch_size // (2 if self.flip else 1))


_now = time.perf_counter


def as_bgr_image(image: Any, name: str = "image", color: str = "bgr") -> np.ndarray:
    """(H, W, 3) BGR uint8 from an array in ``color`` order, a PIL image or an image file's path."""
    if color not in ("bgr", "rgb"):
        raise UserError(f"color must be 'bgr' or 'rgb', got {color!r}")
    if image is None:
        raise UserError(f"{name} is None: no image was given (cv2.imread returns None for a "
                        "missing or unreadable file; pafpose.io.images.read_image names the problem)")
    if isinstance(image, (str, Path)):
        return read_image(image)
    if type(image).__module__.startswith("PIL."):
        mode = getattr(image, "mode", "")
        rgb = np.asarray(image.convert("RGBA" if "A" in mode else "RGB" if mode not in ("L", "I;16", "I") else mode))
        return to_bgr8(rgb[..., [2, 1, 0, 3][:rgb.shape[2]]] if rgb.ndim == 3 else rgb, name=name)
    array = np.asarray(image)
    if color == "rgb" and array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[..., [2, 1, 0, 3][:array.shape[2]]]
    return to_bgr8(array, name=name)

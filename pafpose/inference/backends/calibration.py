"""int8 post-training quantization with NNCF, on a calibration set that looks like real use.

The calibration set is the 4 bundled COCO photos under seeded augmentations (flips, scales
0.5-1.3, crops, contrast and brightness) plus generated multi-person scenes, each prepared
exactly as the Predictor prepares an image (resized to the network input height, grey-padded to
the stride). Measured on the bundled mobilenet-thin-coco (benchmarks/realtime.py), quantizing
the PAF/heatmap stages costs most of the AP: their inputs concatenate backbone features with
the previous stage's maps, whose small values one shared int8 scale cannot hold, and their
outputs are the maps the decoder thresholds. So the stages stay in fp32 and only the backbone
(most of the multiply-adds of the small networks) runs in int8.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from ...codec.spec import HeadSpec
from ...extras import require
from ..geometry import network_input_size, resize_and_pad

__all__ = ["calibration_images", "quantize_int8"]

#: Layers left in float: every convolution of the PAF and heatmap stages.
IGNORED_PATTERNS = (r".*stages.*",)


def calibration_images(count: int = 64, seed: int = 0) -> list[np.ndarray]:
    """``count`` BGR uint8 images: half augmented bundled COCO photos, half generated scenes."""
    from ...data.synth import SceneConfig, render_scene
    from ...io.annotations import SAMPLE_DIR
    from ...io.images import read_image

    rng = np.random.default_rng(seed)
    photos = [read_image(path) for path in sorted(SAMPLE_DIR.glob("*.jpg"))]
    images = []
    for k in range(count):
        if k % 2 == 0 and photos:
            image = photos[(k // 2) % len(photos)]
            if rng.random() < 0.5:
                image = image[:, ::-1]
            scale = rng.uniform(0.5, 1.3)
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            h, w = image.shape[:2]
            top, left = int(rng.integers(0, h // 4 + 1)), int(rng.integers(0, w // 4 + 1))
            image = image[top:, left:]
            image = np.clip(image * rng.uniform(0.6, 1.4) + rng.uniform(-32, 32), 0, 255)
        else:
            size = (int(rng.integers(320, 640)), int(rng.integers(240, 480)))
            image, _ = render_scene(rng, SceneConfig(image_size=size, max_people=6))
        images.append(np.ascontiguousarray(image, dtype=np.uint8))
    return images


def _network_inputs(images: list[np.ndarray], input_height: int, stride: int) -> list[np.ndarray]:
    """Each image as the Predictor feeds it: (1, 3, H, W) float32 RGB [0, 1], padded to the stride."""
    out = []
    for image in images:
        padded = resize_and_pad(image, network_input_size(image.shape[1::-1], input_height, 2048), stride)
        out.append(np.ascontiguousarray(padded[..., ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255)
    return out


def quantize_int8(ov_model, torch_model, input_height: int, head: HeadSpec | None = None,
                  count: int = 64):
    """``ov_model`` with its backbone quantized to int8 by NNCF (stages kept in float)."""
    nncf = require("nncf", "openvino", "int8 quantization")
    nncf.set_log_level(logging.ERROR)
    head = head or getattr(torch_model, "head", None) or HeadSpec()
    inputs = _network_inputs(calibration_images(count), input_height, head.stride)
    return nncf.quantize(ov_model, nncf.Dataset(inputs), subset_size=len(inputs),
                         preset=nncf.QuantizationPreset.MIXED,
                         ignored_scope=nncf.IgnoredScope(patterns=list(IGNORED_PATTERNS), validate=False))

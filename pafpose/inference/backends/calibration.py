"""int8 post-training quantization with NNCF, on a calibration set that looks like real use.

The calibration set is the 4 bundled COCO photos under seeded augmentations (flips, scales
0.5-1.3, crops, contrast and brightness) plus generated multi-person scenes, each prepared
exactly as the Predictor prepares an image (resized to the network input height, grey-padded to
the stride).

What is quantized was chosen by measured sensitivity (issue 25) on the bundled
mobilenet-thin-coco: AP on the 24 annotated views of ``benchmarks/realtime.py`` (fp32: 0.622;
the contract: within 0.01), network ms at 368x496 on 2 cores of a Xeon with AMX (interleaved,
load 1.6; fp32 45.0 ms, torch fp32 76.1 ms). Seeds are calibration-set seeds.

============================================  ==================================  =====
int8 where (the rest in fp32)                 AP, 24 views                        ms
============================================  ==================================  =====
whole network                                 0.296                               --
  ... maps entering each stage rescaled x16   0.279                               --
  ... stages' output convolutions in fp32     0.422                               --
  ... with SmoothQuant (alpha 0.5)            0.585                               27.4
backbone (before issue 25)                    0.597; 0.595 with seed 1            34.3
  ... with SmoothQuant                        0.601                               --
  ... but conv0                               0.574                               --
  ... but its depthwise layers                0.608                               --
  ... but conv6-conv11                        0.608                               --
  ... but conv1-conv5                         0.613; 0.620, 0.622 (seeds 1, 2)    --
  ... but conv1-conv5, with SmoothQuant       0.611                               --
backbone conv6-conv11 (chosen)                0.622; 0.6225 with seed 1           33.3
  ... + all stages, SmoothQuant               0.617; 0.585 with seed 1            28.6
  ... + stages 1-5 conv1, SmoothQuant         0.622; 0.615, 0.600 (seeds 1, 2)    26.1
  ... + heatmap stages, SmoothQuant           0.608                               --
============================================  ==================================  =====

So the stages stay in fp32. Their failure is not the concatenations (NNCF gives each input of a
concatenation its own scale, and rescaling the maps changed nothing) but the one per-tensor scale
of the depthwise outputs feeding each pointwise convolution (ranges up to +-150 shared by all
channels): SmoothQuant's per-channel migration repairs most of it, not reliably within the
contract. NNCF's accuracy-controlled quantization could not help: after SmoothQuant, reverting
one quantizer group scored AP 0.0-0.6 (the folded scales no longer match), and ranking without it
starts from 0.30. In the backbone the loss sits in the layers before stride 8 (conv0-conv5, 15 %
of its multiply-adds, where int8 gains nothing measurable). int8 therefore runs the backbone's
stride-8 layers conv6-conv11 (85 % of its multiply-adds, 42 % of the network's): 1.35x fp32.

The patterns match the node names of both traced (``backbone.conv6.depthwise``) and ONNX-exported
(``/backbone/conv6/depthwise``) graphs; in a network without such names (the VGG PoseNet) only the
stages are left out.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from ...codec.spec import HeadSpec
from ...extras import require
from ..geometry import network_input_size, resize_and_pad

__all__ = ["IGNORED_PATTERNS", "INT8_LAYOUT", "calibration_images", "quantize_int8"]

#: Layers left in float: every convolution of the PAF and heatmap stages, and the backbone's
#: layers before stride 8 (mobilenet-thin's conv0-conv5); the module docstring has the measurements.
IGNORED_PATTERNS = (r".*stages.*", r".*backbone[./]conv[0-5][./].*")
#: Names the cache entries of what :func:`quantize_int8` builds: change it whenever the scope or
#: the calibration changes, so that older int8 conversions are rebuilt rather than reused.
INT8_LAYOUT = "int8-v2"


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
    """``ov_model`` with its backbone's stride-8 layers quantized to int8 by NNCF (the rest in
    float: :data:`IGNORED_PATTERNS`)."""
    nncf = require("nncf", "openvino", "int8 quantization")
    nncf.set_log_level(logging.ERROR)
    head = head or getattr(torch_model, "head", None) or HeadSpec()
    inputs = _network_inputs(calibration_images(count), input_height, head.stride)
    return nncf.quantize(ov_model, nncf.Dataset(inputs), subset_size=len(inputs),
                         preset=nncf.QuantizationPreset.MIXED,
                         ignored_scope=nncf.IgnoredScope(patterns=list(IGNORED_PATTERNS), validate=False))

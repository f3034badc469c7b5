"""The two preprocessors agree: OpenCV on the host and torch on the network's device (run here on
the CPU; on CUDA too where a GPU exists)."""

from __future__ import annotations

import cv2
import pytest
import torch

from pafpose.inference.geometry import PAD_VALUE, network_input_size
from pafpose.inference.stages import CpuPreprocessor, DevicePreprocessor, make_preprocessor
from pafpose.io.annotations import SAMPLE_DIR

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def photos():
    return [cv2.imread(str(path)) for path in sorted(SAMPLE_DIR.glob("*.jpg"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("height", [184, 368, 656])  # shrinking (area) and enlarging (cubic)
def test_device_preprocessing_equals_opencv_within_one_grey_level(photos, device, height):
    cpu, dev = CpuPreprocessor(8, "cpu", flip=True), DevicePreprocessor(8, device, flip=True)
    for photo in photos:
        r = network_input_size(photo.shape[1::-1], height, 2048)
        expected, got = cpu([photo], [r]), dev([photo], [r]).cpu()
        assert got.shape == expected.shape and got.dtype == torch.float32
        levels = (got - expected).abs() * 255
        assert float(levels.max()) <= 1.0 + 1e-3, (height, float(levels.max()))
        assert float((levels > 0.5).float().mean()) < 0.02  # off by one level at a few pixels only
        # The padding is the grey OpenCV pads with, in both.
        assert torch.allclose(got[0, :, :, r.width:], torch.full_like(got[0, :, :, r.width:], PAD_VALUE / 255))


@pytest.mark.parametrize("device", DEVICES)
def test_a_batch_of_frames_resizes_together_and_mixed_sizes_apart(photos, device):
    frame = cv2.resize(photos[1], (640, 480))
    other = cv2.resize(photos[2], (640, 480))  # another picture of the same size
    small = cv2.resize(photos[0], (636, 477))  # another size, the same padded network input
    r = network_input_size((640, 480), 256, 2048)
    r_small = network_input_size((636, 477), 256, 2048)
    assert r_small != r and (r_small.width, r_small.height) == (r.width, r.height)
    dev = DevicePreprocessor(8, device)
    batch = dev([frame, other, small], [r, r, r_small]).cpu()
    for row, image in enumerate([frame, other, small]):
        single = dev([image], [r_small if image is small else r]).cpu()[0]
        assert torch.equal(batch[row], single)


@pytest.mark.parametrize("device", DEVICES)
def test_process_wide_matmul_precision_leaves_the_device_preprocessing_alone(photos, device):
    """``torch.set_float32_matmul_precision`` lets float32 matrix products run in TF32 (CUDA) or
    bf16 (CPUs with AMX or AVX512-BF16). The device's area resize once was two matrix products:
    "medium" moved its pixels by up to 1.5 grey levels on such a CPU, and a CUDA run's batch of
    two differed from its frames resized alone (the test above)."""
    frames = [cv2.resize(photo, (640, 480)) for photo in photos[:2]]
    r = network_input_size((640, 480), 256, 2048)
    expected = DevicePreprocessor(8, device)(frames, [r, r])
    previous = torch.get_float32_matmul_precision()
    try:
        for precision in ("high", "medium"):
            torch.set_float32_matmul_precision(precision)
            assert torch.equal(DevicePreprocessor(8, device)(frames, [r, r]), expected), precision
    finally:
        torch.set_float32_matmul_precision(previous)


def test_the_choice_follows_the_device():
    assert isinstance(make_preprocessor("auto", 8, torch.device("cpu"), False), CpuPreprocessor)
    assert isinstance(make_preprocessor("device", 8, torch.device("cpu"), False), DevicePreprocessor)
    if torch.cuda.is_available():
        assert isinstance(make_preprocessor("auto", 8, torch.device("cuda"), False), DevicePreprocessor)

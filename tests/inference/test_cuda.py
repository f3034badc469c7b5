"""The CUDA paths: graph capture per shape and its fallback, static batches, device preprocessing
through the whole Predictor. Skipped (named) where no GPU exists; run on every CUDA machine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_helpers import TINY_MOBILENET_CONFIG, tiny_model

from pafpose.inference.backends.cuda_graphs import CudaGraphs
from pafpose.inference.backends.networks import TorchNetwork
from pafpose.inference.predict import Predictor
from pafpose.inference.stages import NetworkStage
from pafpose.io.annotations import SAMPLE_DIR

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def model():
    return tiny_model(TINY_MOBILENET_CONFIG).to(CUDA).eval()


def test_a_captured_graph_replays_what_the_eager_network_computes(model):
    network = TorchNetwork(model, CUDA, "fp32", cuda_graphs=True)
    eager = TorchNetwork(model, CUDA, "fp32", cuda_graphs=False)
    batches = [torch.rand(2, 3, 64, 96, device=CUDA) for _ in range(4)]
    for batch in batches:  # the first call runs eagerly, the second captures, then replays
        for got, expected in zip(network(batch), eager(batch)):
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert list(network._graphs.graphs) == [(2, 3, 64, 96)]
    # A replayed output is a copy: the next replay does not overwrite what was handed out.
    first = network(batches[0])[0]
    kept = first.clone()
    network(batches[1])
    assert torch.equal(first, kept)


def test_odd_shapes_stay_eager_and_the_graph_count_is_bounded(model):
    graphs = CudaGraphs(TorchNetwork(model, CUDA, "fp32", cuda_graphs=False)._eager, max_graphs=2)
    with torch.inference_mode():
        for width in (64, 72, 80, 64, 72, 80, 88):
            graphs(torch.rand(1, 3, 64, width, device=CUDA))
    assert len(graphs.graphs) == 2 and (1, 3, 64, 88) not in graphs.graphs


def test_a_static_batch_pads_and_crops(model):
    stage = NetworkStage(TorchNetwork(model, CUDA, "fp32"), static_batch=8)
    heatmaps, pafs, seconds = stage(torch.rand(3, 3, 64, 64, device=CUDA))
    assert heatmaps.shape[0] == 3 and pafs.shape[0] == 3 and seconds > 0


@pytest.fixture
def tf32(request):
    """cuDNN's TF32 for float32 convolutions on (PyTorch's default) or off (IEEE float32) for the
    test; pafpose leaves this process-wide setting to the application."""
    previous = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = request.param
    yield request.param
    torch.backends.cudnn.allow_tf32 = previous


@pytest.mark.parametrize(("precision", "tf32"), [("fp32", False), ("fp32", True), ("fp16", True)],
                         ids=["fp32", "fp32-tf32", "fp16"], indirect=["tf32"])
def test_the_cuda_predictor_finds_what_the_cpu_one_finds(precision, tf32):
    """In IEEE float32 the CUDA path (device preprocessing, CUDA graphs, static batches) finds the
    CPU's people and keypoints. With TF32 convolutions (10-bit mantissas, PyTorch's default on
    CUDA) the maps move a little, and where two candidates nearly tie the decoder may take the
    other one: most keypoints stay within a pixel, not all.

    The CPU reference pads its inputs to the GPU's 64-pixel size buckets: that shape policy is a
    trade of its own (measured in AP by benchmarks/engine.py) and moves keypoints on these photos
    by itself (on the CPU, 13 of them by over a pixel; the 2.76 px an H200 run once failed on is
    one, reproduced on the CPU with the buckets alone), so this compares the machinery alone."""
    import cv2

    photos = [cv2.imread(str(p)) for p in sorted(SAMPLE_DIR.glob("*.jpg"))]
    gpu = Predictor(device="cuda", backend="torch", precision=precision)  # device preprocessing, graphs
    cpu = Predictor(backend="torch", precision="fp32", bucket=gpu.bucket)
    moved = []
    for photo in photos:
        expected, got = cpu.predict(photo), gpu.predict(photo)
        assert abs(len(expected) - len(got)) <= (0 if precision == "fp32" else 1)
        if precision == "fp32":
            for a, b in zip(expected, got):
                found = (a.keypoints[:, 2] > 0) | (b.keypoints[:, 2] > 0)
                moved += np.abs(a.keypoints[found, :2] - b.keypoints[found, :2]).max(axis=1).tolist()
    if precision == "fp32":
        moved = np.asarray(moved)
        assert len(moved) > 0
        if tf32:
            assert np.mean(moved <= 1.0) >= 0.95, np.sort(moved)[-5:]
        else:
            assert moved.max() <= 1.0, np.sort(moved)[-5:]

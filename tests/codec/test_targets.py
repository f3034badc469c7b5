import math

import numpy as np
import pytest
import torch

from pafpose.codec.head import PafCodec
from pafpose.codec.skeleton import COCO18, flip_keypoints
from pafpose.codec.spec import cells_to_pixels
from pafpose.codec.targets import flip_heatmaps, flip_pafs, map_size_for, render_heatmaps, render_pafs
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco

STRIDE, SIGMA, WIDTH = 8, 7.0, 1.0  # OpenPose's COCO head, written out: these tests pin the maths


def cell_centre(index):
    return cells_to_pixels(index, STRIDE)


def one_keypoint(x, y, num_keypoints=1, joint=0):
    kp = np.zeros((1, num_keypoints, 3))
    kp[0, joint] = [x, y, 2]
    return kp


def quadratic_peak(values):
    """Sub-cell offset of the vertex of a parabola through three log-values."""
    left, centre, right = np.log(values)
    return 0.5 * (left - right) / (left - 2 * centre + right)


def real_samples():
    coco = load_coco(SAMPLE_ANNOTATIONS)
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        kp = PafCodec().keypoints(coco.loadAnns(coco.getAnnIds(imgIds=image_id)))
        yield kp, (info["width"], info["height"])


def random_people(rng, people, size=368, spread=60.0):
    """(P, 18, 3) people as clusters of keypoints with mixed visibility."""
    centres = rng.uniform(0, size, (people, 1, 2))
    kp = np.concatenate([centres + rng.normal(0, spread, (people, 18, 2)),
                         rng.integers(0, 3, (people, 18, 1)).astype(float)], axis=-1)
    return kp


@pytest.mark.parametrize("x, y", [(100.0, 60.0), (101.3, 57.9), (11.5, 11.5), (163.77, 90.12)])
def test_heatmap_peak_at_nearest_cell_and_subcell_recovers_position(x, y):
    hm = render_heatmaps(one_keypoint(x, y), (46, 30), STRIDE, 7.0, background=False)[0]
    i, j = np.unravel_index(hm.argmax(), hm.shape)
    assert abs(cell_centre(j) - x) <= STRIDE / 2 and abs(cell_centre(i) - y) <= STRIDE / 2
    # A Gaussian's log is a parabola: a three-point fit recovers the keypoint exactly.
    sub_x = cell_centre(j + quadratic_peak(hm[i, j - 1:j + 2]))
    sub_y = cell_centre(i + quadratic_peak(hm[i - 1:i + 2, j]))
    assert abs(sub_x - x) < 0.5 and abs(sub_y - y) < 0.5


def test_heatmap_values_match_formula_and_cutoff():
    x, y, sigma = 97.0, 41.0, 7.0
    hm = render_heatmaps(one_keypoint(x, y), (40, 20), STRIDE, sigma, background=False)[0]
    jj, ii = np.meshgrid(np.arange(40), np.arange(20))
    expected = np.exp(-0.5 * ((cell_centre(jj) - x) ** 2 + (cell_centre(ii) - y) ** 2) / sigma**2)
    expected[expected < 0.01] = 0
    np.testing.assert_allclose(hm, expected, atol=1e-6)
    assert hm[hm > 0].min() >= 0.01


def test_people_combine_by_max_not_mean():
    a, b = one_keypoint(100, 100), one_keypoint(108, 100)
    both = render_heatmaps(np.concatenate([a, b]), (30, 30), STRIDE, SIGMA, background=False)
    each = [render_heatmaps(p, (30, 30), STRIDE, SIGMA, background=False) for p in (a, b)]
    np.testing.assert_allclose(both, np.maximum(*each), atol=1e-7)
    assert both.max() <= 1.0


def test_background_channel_and_visibility():
    kp = np.zeros((2, 3, 3))
    kp[0, 0] = [50, 50, 2]
    kp[0, 1] = [80, 30, 1]  # labelled but occluded: drawn
    kp[1, 2] = [20, 20, 0]  # unlabelled: ignored
    hm = render_heatmaps(kp, (16, 12), STRIDE, SIGMA, background=True)
    assert hm.shape == (4, 12, 16) and hm.dtype == np.float32
    assert hm[0].max() > 0.5 and hm[1].max() > 0.5 and hm[2].max() == 0
    np.testing.assert_allclose(hm[3], np.maximum(1 - hm[:3].max(0), 0), atol=1e-7)


def limb_person(x1, y1, x2, y2):
    kp = np.zeros((1, 2, 3))
    kp[0, 0] = [x1, y1, 2]
    kp[0, 1] = [x2, y2, 2]
    return kp


@pytest.mark.parametrize("angle", [0.0, 0.4, 1.3, 2.9, -2.2])
def test_paf_is_unit_vector_inside_limb_rectangle_and_zero_outside(angle):
    x1, y1, length, width = 150.3, 140.8, 95.0, 1.0
    x2, y2 = x1 + length * math.cos(angle), y1 + length * math.sin(angle)
    paf = render_pafs(limb_person(x1, y1, x2, y2), [(0, 1)], (40, 36), STRIDE, width)
    jj, ii = np.meshgrid(np.arange(40), np.arange(36))
    # The rectangle in map cells, evaluated independently of the renderer.
    px, py = (cell_centre(jj) - x1) / STRIDE, (cell_centre(ii) - y1) / STRIDE
    along = px * math.cos(angle) + py * math.sin(angle)
    across = -px * math.sin(angle) + py * math.cos(angle)
    inside = (along >= 0) & (along <= length / STRIDE) & (np.abs(across) <= width)
    assert inside.sum() > 20
    np.testing.assert_allclose(paf[0][inside], math.cos(angle), atol=1e-6)
    np.testing.assert_allclose(paf[1][inside], math.sin(angle), atol=1e-6)
    assert (paf[:, ~inside] == 0).all()


def test_paf_averages_overlapping_people():
    right = limb_person(40, 100, 300, 100)
    down = limb_person(150, 20, 150, 300)
    paf = render_pafs(np.concatenate([right, down]), [(0, 1)], (46, 46), STRIDE, 1.0)
    cross = (100 - 3.5) / 8, (150 - 3.5) / 8  # both limbs pass through this cell centre region
    i, j = int(round(cross[0])), int(round(cross[1]))
    np.testing.assert_allclose(paf[:, i, j], [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(paf[:, i, j + 10], [1.0, 0.0], atol=1e-6)  # only the horizontal limb
    same = render_pafs(np.concatenate([right, right]), [(0, 1)], (46, 46), STRIDE, 1.0)
    np.testing.assert_allclose(same, render_pafs(right, [(0, 1)], (46, 46), STRIDE, 1.0))


def test_paf_skips_missing_ends_and_zero_length_limbs():
    kp = limb_person(40, 40, 40, 40)
    assert not render_pafs(kp, [(0, 1)], (20, 20), STRIDE, WIDTH).any()
    kp = limb_person(40, 40, 120, 40)
    kp[0, 1, 2] = 0
    assert not render_pafs(kp, [(0, 1)], (20, 20), STRIDE, WIDTH).any()


def test_paf_channel_layout_follows_limb_order():
    kp = np.zeros((1, 18, 3))
    kp[0, 1] = [100, 100, 2]  # neck
    kp[0, 8] = [100, 200, 2]  # r_hip: only limb 6 (1, 8) exists
    paf = render_pafs(kp, COCO18.limbs, (46, 46), STRIDE, WIDTH)
    assert paf.shape == (38, 46, 46)
    nonzero = {c for c in range(38) if paf[c].any()}
    assert nonzero == {13}  # limb 6's y channel; its x is 0 for a vertical limb
    assert paf[13].max() == pytest.approx(1.0)


def test_flipping_the_image_flips_the_targets():
    rng = np.random.default_rng(3)
    width, height = 368, 256  # multiples of the stride, so the map grid mirrors onto itself
    size = map_size_for((width, height), STRIDE)
    for _ in range(5):
        kp = random_people(rng, 4, size=250)
        mirrored = flip_keypoints(kp, width, "coco18")
        np.testing.assert_allclose(
            render_heatmaps(mirrored, size, STRIDE, SIGMA),
            flip_heatmaps(render_heatmaps(kp, size, STRIDE, SIGMA), COCO18), atol=1e-6)
        np.testing.assert_allclose(
            render_pafs(mirrored, COCO18.limbs, size, STRIDE, WIDTH),
            flip_pafs(render_pafs(kp, COCO18.limbs, size, STRIDE, WIDTH), COCO18), atol=1e-6)


def test_numpy_and_batched_torch_agree_on_random_and_real_inputs():
    rng = np.random.default_rng(0)
    batches = [np.stack([random_people(rng, 6) for _ in range(6)])]
    for kp, (w, h) in real_samples():
        batches.append((kp[None], map_size_for((w, h), STRIDE)))
    for item in batches:
        kp, size = item if isinstance(item, tuple) else (item, (46, 46))
        hm_t = render_heatmaps(torch.from_numpy(kp), size, STRIDE, SIGMA)
        paf_t = render_pafs(torch.from_numpy(kp), COCO18.limbs, size, STRIDE, WIDTH)
        assert hm_t.dtype == torch.float32 and hm_t.shape == (len(kp), 19, size[1], size[0])
        for b in range(len(kp)):
            np.testing.assert_allclose(hm_t[b].numpy(), render_heatmaps(kp[b], size, STRIDE, SIGMA), atol=1e-5)
            np.testing.assert_allclose(
                paf_t[b].numpy(), render_pafs(kp[b], COCO18.limbs, size, STRIDE, WIDTH), atol=1e-5)


def test_torch_batch_padding_rows_with_zero_visibility_change_nothing():
    rng = np.random.default_rng(5)
    kp = random_people(rng, 3)
    padded = np.concatenate([kp, np.zeros((4, 18, 3))])[None]
    np.testing.assert_allclose(
        render_pafs(torch.from_numpy(padded), COCO18.limbs, (46, 46), STRIDE, WIDTH)[0].numpy(),
        render_pafs(kp, COCO18.limbs, (46, 46), STRIDE, WIDTH), atol=1e-5)


def test_empty_inputs_give_empty_maps():
    hm = render_heatmaps(np.zeros((0, 18, 3)), (10, 8), STRIDE, SIGMA)
    assert hm.shape == (19, 8, 10) and not hm[:18].any() and (hm[18] == 1).all()
    assert not render_pafs(np.zeros((0, 18, 3)), COCO18.limbs, (10, 8), STRIDE, WIDTH).any()
    assert render_heatmaps(torch.zeros(2, 0, 18, 3), (10, 8), STRIDE, SIGMA).shape == (2, 19, 8, 10)


@pytest.mark.parametrize("call, message", [
    (lambda: render_heatmaps(np.zeros((18, 3)), (10, 10), STRIDE, SIGMA), "shape"),
    (lambda: render_heatmaps(np.zeros((1, 18, 2)), (10, 10), STRIDE, SIGMA), "shape"),
    (lambda: render_heatmaps(torch.zeros(1, 18, 3), (10, 10), STRIDE, SIGMA), r"\(B, P, K, 3\)"),
    (lambda: render_heatmaps(np.array([[[np.nan, 5.0, 2.0]]]), (10, 10), STRIDE, SIGMA), "NaN"),
    (lambda: render_pafs(np.array([[[np.inf, 0, 2], [1, 1, 2]]]), [(0, 1)], (10, 10), STRIDE, WIDTH), "NaN"),
    (lambda: render_heatmaps(np.zeros((1, 18, 3)), (-1, 10), STRIDE, SIGMA), "positive"),
    (lambda: render_heatmaps(np.zeros((1, 18, 3)), (10, 10), 0, SIGMA), "stride"),
    (lambda: render_heatmaps(np.zeros((1, 18, 3)), (10, 10), STRIDE, -1), "sigma"),
    (lambda: render_pafs(np.zeros((1, 18, 3)), [(0, 18)], (10, 10), STRIDE, WIDTH), "limb"),
    (lambda: render_pafs(np.zeros((1, 18, 3)), [(0, 1)], (10, 10), STRIDE, 0), "limb_width"),
])
def test_invalid_input_raises_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_nan_on_unlabelled_keypoints_is_ignored():
    kp = np.zeros((1, 18, 3))
    kp[0, 3] = [np.nan, np.nan, 0]
    kp[0, 0] = [50, 50, 2]
    assert render_heatmaps(kp, (20, 20), STRIDE, SIGMA)[0].max() > 0.9

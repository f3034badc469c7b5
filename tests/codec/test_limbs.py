"""Stages 2-4: the field sampler, the one limb scorer, matching and recovery."""

from __future__ import annotations

import numpy as np
import pytest
from decode_helpers import CODEC, degraded_maps, image_size, render_maps, synthetic_people, without_a_shoulder

from pafpose.codec.decode import DecodeParams, Peaks, decode, find_peaks, sample_fields, score_limbs, score_pairs
from pafpose.codec.decode.limbs import candidate_pairs
from pafpose.codec.targets import render_heatmaps
from pafpose.inference.evaluate import evaluate_keypoints, people_to_coco_results
from testkit.degrade import WHITE_NOISE

STRIDE = CODEC.stride
LIMBS = np.asarray(CODEC.skeleton.limbs).reshape(-1, 2)


def test_the_field_sampler_is_bilinear_and_clamps_to_the_border():
    h, w = 5, 7
    rows, cols = np.mgrid[:h, :w].astype(np.float32)
    pafs = np.stack([cols, rows, 2 * cols + 3 * rows, -rows]).astype(np.float32)  # 2 limbs, linear fields
    limb = np.array([0, 1, 1, 0])
    xy = np.array([[2.0, 3.0], [1.25, 0.5], [5.9, 3.99], [6.0, 4.0]])
    expected = np.array([[2.0, 3.0], [2 * 1.25 + 3 * 0.5, -0.5], [2 * 5.9 + 3 * 3.99, -3.99], [6.0, 4.0]])
    np.testing.assert_allclose(sample_fields(pafs, limb, xy), expected, rtol=1e-6)  # exact for linear fields
    # Outside the map the border's value, any number of points per row.
    outside = np.array([[[-3.0, 2.0], [9.0, -1.0]], [[100.0, 100.0], [-1.0, 4.5]]])
    np.testing.assert_allclose(sample_fields(pafs, np.array([0, 1]), outside),
                               [[[0.0, 2.0], [6.0, 0.0]], [[2 * 6 + 3 * 4, -4.0], [3 * 4, -4.0]]])
    # A map one cell wide is constant across.
    column = pafs[:, :, :1]
    np.testing.assert_allclose(sample_fields(column, np.array([1]), np.array([[0.7, 2.5]])), [[7.5, -2.5]])


def _two_peaks(length: float, height: int) -> tuple[Peaks, np.ndarray]:
    """A neck and a right shoulder ``length`` cells apart along x on a map ``height`` cells high,
    and fields of unit length along x for every limb."""
    xy = np.array([[1.0, height / 2], [1.0 + length, height / 2]])
    peaks = Peaks(xy=xy, score=np.ones(2), kind=np.array([1, 2]), start=np.array([0, 0, 1] + [2] * 15),
                  count=np.array([0, 1, 1] + [0] * 15))
    pafs = np.zeros((38, height, int(length) + 3), np.float32)
    pafs[0::2] = 1.0
    return peaks, pafs


def test_the_score_is_the_mean_projection_plus_the_length_penalty():
    # min(0.5 * image height / limb length - 1, 0), both in cells (or both in pixels).
    peaks, pafs = _two_peaks(30.0, 4)
    scored = score_limbs(peaks, pafs, LIMBS, DecodeParams())
    assert scored.limb.tolist() == [0] and scored.a.tolist() == [0] and scored.b.tolist() == [1]
    assert scored.score[0] == pytest.approx(1.0 + 0.5 * 4 / 30 - 1.0)
    pafs *= 0.5  # the penalty now outweighs the support
    assert not len(score_limbs(peaks, pafs, LIMBS, DecodeParams()).score)
    peaks, pafs = _two_peaks(10.0, 40)  # shorter than half the map's height: no penalty
    assert score_limbs(peaks, pafs * 0.5, LIMBS, DecodeParams()).score[0] == pytest.approx(0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_pretest_keeps_exactly_the_pairs_and_scores_of_scoring_them_all(seed):
    # score_limbs drops most pairs before sampling and samples in rounds; the pairs and scores
    # it keeps are those of scoring every pair at every sample.
    keypoints, size = synthetic_people(12, np.random.default_rng(seed))
    h, p = degraded_maps(keypoints, size, WHITE_NOISE["moderate"], seed=seed)
    params = DecodeParams()
    peaks = find_peaks(np.ascontiguousarray(h[:18]), params)
    fast = score_limbs(peaks, p, LIMBS, params)
    every = score_pairs(peaks, p, *candidate_pairs(peaks, LIMBS), params)
    assert len(every.score) > 50
    for name in ("limb", "a", "b"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(every, name))
    np.testing.assert_allclose(fast.score, every.score, rtol=1e-12)


def test_limbs_whose_fields_sank_to_the_noise_still_connect(sample):
    # The white-noise recipe's severe level: blur and attenuation bring short limbs' fields to
    # 0.03-0.08, under the paper's 0.05 per-sample threshold, so those limbs failed the inlier
    # test and people fell apart; the default (0.025) keeps them.
    coco, images = sample
    assert DecodeParams().paf_threshold < 0.05
    ours, paper = [], []
    for n, (image_id, heatmaps, _, keypoints) in enumerate(images):
        h, p = degraded_maps(keypoints, image_size(heatmaps), WHITE_NOISE["severe"], seed=n)
        # (the weak-bridge pass off: it rescues some of the same limbs)
        ours += people_to_coco_results(decode(h, p, bridge_inlier_fraction=None), image_id)
        paper += people_to_coco_results(decode(h, p, paf_threshold=0.05, bridge_inlier_fraction=None),
                                        image_id)
    assert evaluate_keypoints(coco, ours)["AP"] > evaluate_keypoints(coco, paper)["AP"] + 0.03
    # Clean maps decode exactly as before: their fields are far above either threshold.
    _, heatmaps, pafs, _ = images[0]
    assert [p.keypoints.tolist() for p in decode(heatmaps, pafs)] == \
        [p.keypoints.tolist() for p in decode(heatmaps, pafs, paf_threshold=0.05)]


# ------------------------------------------------------------------------------------------
# recovery: keypoints the heatmaps lost, found at the ends of their limbs' fields
# ------------------------------------------------------------------------------------------


def test_a_keypoint_type_without_candidates_only_loses_that_keypoint():
    keypoints, size = synthetic_people(4, np.random.default_rng(1), drop_leaves=0.0)
    heatmaps, pafs = render_maps(keypoints, size)
    heatmaps[4] = 0  # no right wrists anywhere
    people = decode(heatmaps, pafs, recover=False)
    assert len(people) == 4
    assert all(p.keypoints[4, 2] == 0 and p.num_parts == 17 for p in people)
    # The elbow-wrist fields still end at the wrists: recovery puts them back, about where drawn.
    people = decode(heatmaps, pafs)
    assert len(people) == 4 and all(p.num_parts == 18 for p in people)
    wrists = np.array([p.keypoints[4, :2] for p in people])
    error = np.hypot(*(wrists[:, None] - keypoints[None, :, 4, :2]).transpose(2, 0, 1)).min(axis=1)
    assert error.max() < STRIDE  # pixels: the end of a field band, not a refined peak


def _whole(people, truth: np.ndarray) -> float:
    """Largest fraction of ``truth``'s (18, 3) labelled keypoints that one decoded person holds
    within 2 pixels."""
    labelled = truth[:, 2] > 0
    best = 0.0
    for person in people:
        near = (person.keypoints[:, 2] > 0) & (np.abs(person.keypoints[:, :2] - truth[:, :2]).max(axis=1) < 2.0)
        best = max(best, np.count_nonzero(near & labelled) / np.count_nonzero(labelled))
    return best


@pytest.mark.parametrize("recover", [True, False])
def test_people_without_a_neck_come_back_whole(sample, recover):
    # One shoulder hidden: no peak for it nor for the neck, while the network still sees the
    # torso and arm, so their PAFs stay (as in a real network's maps).
    _, images = sample
    fractions = []
    for image_id, heatmaps, pafs, keypoints in images:
        reduced, both = without_a_shoulder(keypoints)
        if not len(both):
            continue
        hidden = render_heatmaps(reduced, heatmaps.shape[:0:-1], STRIDE, CODEC.spec.sigma)
        people = decode(hidden, pafs, recover=recover)
        fractions += [_whole(people, reduced[p]) for p in both]
    assert len(fractions) >= 8
    if recover:
        assert min(fractions) >= 0.9
    else:  # without the neck the COCO-18 tree falls apart into head, arm and leg fragments
        assert np.mean(np.array(fractions) >= 0.9) < 0.5

"""The whole decoder: ground-truth maps of real and synthetic people decode back to those people."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from decode_helpers import CODEC, render_maps, sample_ap, synthetic_people

from pafpose.codec.decode import decode
from pafpose.codec.people import Person
from pafpose.codec.skeleton import COCO18, flip_keypoints

STRIDE = CODEC.stride


@pytest.mark.parametrize("matching", ["greedy", "hungarian"])
def test_round_trip_on_real_annotations_clears_the_grid(sample, matching):
    assert sample_ap(sample, matching=matching) >= 0.95
    # Without sub-cell refinement the stride-8 grid alone costs AP: the refinement is what counts.
    assert sample_ap(sample, matching=matching, refine="none") < 0.93


def test_round_trip_recovers_every_labelled_person(sample):
    _, images = sample
    errors = []
    for _, heatmaps, pafs, keypoints in images:
        people = decode(heatmaps, pafs)
        assert len(people) == len(keypoints)
        for person in people:
            found = person.keypoints[:, 2] > 0
            error = np.abs(keypoints[:, found, :2] - person.keypoints[None, found, :2]).max(axis=2)
            errors.append(error[np.argmin(error.max(axis=1))])
    errors = np.concatenate(errors)
    # The log-parabola fit is exact on Gaussians; the default smoothing (which removes noise
    # peaks) may move a peak by a cell where two keypoints' Gaussians overlap or at the border.
    assert np.median(errors) < 0.02 and np.percentile(errors, 95) < 0.5  # pixels
    exact = []
    for _, heatmaps, pafs, keypoints in images:
        for person in decode(heatmaps, pafs, smooth_sigma=0):
            found = person.keypoints[:, 2] > 0
            error = np.abs(keypoints[:, found, :2] - person.keypoints[None, found, :2]).max(axis=2)
            exact.append(error[np.argmin(error.max(axis=1))])
    assert np.concatenate(exact).max() < 0.01


@pytest.mark.parametrize("num_people", [1, 2, 3, 5, 8, 13, 21, 30])
def test_synthetic_scenes_give_exactly_the_people_drawn(num_people):
    for seed in range(3):
        keypoints, size = synthetic_people(num_people, np.random.default_rng(1000 * num_people + seed))
        heatmaps, pafs = render_maps(keypoints, size)
        for matching in ("greedy", "hungarian"):
            people = decode(heatmaps, pafs, matching=matching)
            assert len(people) == num_people
            # Each decoded person is one drawn person: every keypoint found lies where it was
            # drawn. Face limbs can be shorter than a map cell and then carry no PAF, so a few
            # face keypoints can be missed, nothing else.
            drawn = np.where(keypoints[:, :, 2:] > 0, keypoints[:, :, :2], np.nan)
            matched = set()
            for person in people:
                found = person.keypoints[:, 2] > 0
                error = np.abs(drawn[:, found] - person.keypoints[found, :2]).max(axis=(1, 2))
                index = int(np.nanargmin(error))
                assert error[index] < 0.5 and index not in matched  # pixels; a cell is 8
                matched.add(index)
                lost = np.flatnonzero(~found & (keypoints[index, :, 2] > 0))
                assert set(lost) <= {0, 14, 15, 16, 17}


def test_people_are_sorted_by_score_with_consistent_fields():
    keypoints, size = synthetic_people(6, np.random.default_rng(3))
    keypoints[0, 8:14] = 0  # a person without legs has fewer parts and a different score
    people = decode(*render_maps(keypoints, size))
    assert len(people) == 6
    scores = [p.score for p in people]
    assert scores == sorted(scores, reverse=True)
    for person in people:
        assert isinstance(person, Person) and person.keypoints.shape == (18, 3)
        missing = person.keypoints[:, 2] == 0
        assert (person.keypoints[missing] == 0).all()
        assert person.to_coco17().shape == (17, 3)


def _match(people_a: list[Person], people_b: list[Person]) -> float:
    """Largest keypoint difference between two sets of people, each paired with its nearest."""
    assert len(people_a) == len(people_b)
    worst = 0.0
    for person in people_a:
        diffs = [np.abs(person.keypoints - other.keypoints).max() for other in people_b]
        worst = max(worst, min(diffs))
    return worst


def test_flipped_maps_give_flipped_people(sample):
    _, images = sample
    for _, heatmaps, pafs, keypoints in images:
        width = heatmaps.shape[-1] * STRIDE
        people = decode(heatmaps, pafs)
        mirrored = decode(*CODEC.flip_maps(heatmaps, pafs))
        assert len(people) == len(mirrored) == len(keypoints) > 0
        expected = [Person(flip_keypoints(p.keypoints, width, COCO18), p.score) for p in people]
        assert _match(mirrored, expected) < 1e-3
        np.testing.assert_allclose(sorted(p.score for p in mirrored),
                                   sorted(p.score for p in people), atol=1e-6)


def test_torch_and_numpy_inputs_give_the_same_people(sample):
    _, images = sample
    _, heatmaps, pafs, _ = images[-1]
    from_numpy = decode(heatmaps, pafs)
    from_torch = decode(torch.from_numpy(heatmaps), torch.from_numpy(pafs))
    assert len(from_numpy) == len(from_torch) > 0
    for a, b in zip(from_numpy, from_torch):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        assert a.score == b.score


def test_background_channel_is_optional(sample):
    _, images = sample
    _, heatmaps, pafs, _ = images[-1]
    with_bg, without = decode(heatmaps, pafs), decode(heatmaps[:18], pafs)
    assert len(with_bg) == len(without) > 0
    assert _match(with_bg, without) == 0.0


def test_empty_maps_and_missing_support_give_no_people():
    assert decode(np.zeros((19, 46, 46), np.float32), np.zeros((38, 46, 46), np.float32)) == []
    keypoints, size = synthetic_people(3, np.random.default_rng(0))
    heatmaps, pafs = render_maps(keypoints, size)
    assert decode(heatmaps, np.zeros_like(pafs)) == []
    assert decode(np.zeros_like(heatmaps), pafs) == []
    assert decode(np.zeros((19, 1, 1), np.float32), np.zeros((38, 1, 1), np.float32)) == []


def test_bad_input_raises_clear_value_errors():
    heatmaps = np.zeros((19, 8, 8), np.float32)
    pafs = np.zeros((38, 8, 8), np.float32)
    cases = [
        ((np.zeros((17, 8, 8)), pafs), "heatmaps need 18 or 19 channels"),
        ((heatmaps, np.zeros((36, 8, 8))), "pafs need 38 channels"),
        ((heatmaps[None], pafs), r"shape \(C, H, W\)"),
        ((heatmaps, np.zeros((38, 8, 9))), "must share"),
        ((np.full((19, 8, 8), np.nan), pafs), "heatmaps contain NaN or inf"),
        ((heatmaps, np.full((38, 8, 8), np.inf)), "pafs contain NaN or inf"),
        ((["a"], pafs), "heatmaps must be a numeric array"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            decode(*args)

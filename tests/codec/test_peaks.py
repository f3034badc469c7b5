"""Stage 1, peaks: a threshold that follows the maps' noise but never overtakes their signal,
and a cap on candidates."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from decode_helpers import CODEC, degraded_maps, image_size, render_maps, synthetic_people

from pafpose.codec.decode import DecodeParams, decode, find_peaks, peak_threshold
from pafpose.codec.decode.peaks import noise_sigma
from pafpose.inference.evaluate import evaluate_keypoints, people_found, people_to_coco_results
from testkit.degrade import CORRELATED_NOISE


def test_peaks_are_refined_below_the_cell():
    keypoints, size = synthetic_people(3, np.random.default_rng(5), drop_leaves=0.0)
    heatmaps, _ = render_maps(keypoints, size)
    peaks = find_peaks(np.ascontiguousarray(heatmaps[:18]), DecodeParams(smooth_sigma=0))
    truth = CODEC.spec.pixels_to_cells(keypoints[..., :2])  # (P, K, 2) cells
    for kind in range(18):
        found = peaks.xy[peaks.start[kind]:peaks.start[kind] + peaks.count[kind]]
        error = np.hypot(*(found[:, None] - truth[None, :, kind]).transpose(2, 0, 1)).min(axis=1)
        assert peaks.count[kind] == 3 and error.max() < 0.01  # cells: exact on Gaussians


def test_hundreds_of_spurious_peaks_are_capped_and_people_survive():
    rng = np.random.default_rng(2)
    keypoints, size = synthetic_people(5, rng, drop_leaves=0.0)
    heatmaps, pafs = render_maps(keypoints, size)
    noisy = heatmaps.copy()
    noisy[:18] += rng.uniform(0.0, 0.3, size=noisy[:18].shape).astype(np.float32)
    people = decode(noisy, pafs, max_candidates=40)
    assert len(people) == 5  # spurious peaks lack PAF support, except near real keypoints
    # With a cap smaller than the real number of a type, only the strongest are kept.
    capped = decode(heatmaps, pafs, max_candidates=2)
    assert 1 <= len(capped) <= 2
    assert (np.sum([p.keypoints[:, 2] > 0 for p in capped], axis=0) <= 2).all()


def test_the_threshold_rises_with_noise_but_stays_under_the_signal():
    params = DecodeParams()
    keypoints, size = synthetic_people(4, np.random.default_rng(6), drop_leaves=0.0)
    heatmaps = render_maps(keypoints, size)[0][:18]
    assert peak_threshold(heatmaps, params) == params.peak_threshold  # clean: no noise to follow
    noisy = heatmaps + np.random.default_rng(0).normal(0.0, 0.05, heatmaps.shape).astype(np.float32)
    assert noise_sigma(noisy) == pytest.approx(0.05, rel=0.1)
    assert peak_threshold(noisy, params) == pytest.approx(params.noise_factor * noise_sigma(noisy))
    weak = 0.2 * heatmaps + np.random.default_rng(0).normal(0.0, 0.05, heatmaps.shape).astype(np.float32)
    ceiling = params.signal_fraction * np.sort(weak.max(axis=(1, 2)))[(18 - 1) // 4]
    assert peak_threshold(weak, params) == pytest.approx(ceiling)  # 4 sigma would pass the signal


@pytest.mark.parametrize("level, min_ap", [("moderate", 0.75), ("severe", 0.3)])
def test_weak_blurred_maps_still_decode(sample, level, min_ap):
    coco, images = sample
    results, before = [], []
    for n, (image_id, heatmaps, _, keypoints) in enumerate(images):
        h, p = degraded_maps(keypoints, image_size(heatmaps), level, seed=n)
        results += people_to_coco_results(decode(h, p), image_id)
        before += people_to_coco_results(decode(h, p, peak_threshold=0.1, recover=False), image_id)
    after = evaluate_keypoints(coco, results)["AP"]
    assert after >= min_ap
    assert evaluate_keypoints(coco, before)["AP"] < after - 0.05  # a fixed threshold, no recovery


def test_peaks_sunk_below_the_noise_following_threshold_still_decode(sample):
    # The correlated-noise recipe's severe level: blur and attenuation bring the true peaks
    # (smoothed as the decoder smooths) under 4x the maps' noise, where an unbounded threshold
    # drops nearly every peak at once.
    coco, images = sample
    ours, unbounded, under = [], [], []
    for n, (image_id, heatmaps, _, keypoints) in enumerate(images):
        h, p = degraded_maps(keypoints, image_size(heatmaps), CORRELATED_NOISE["severe"], seed=n)
        smooth = cv2.GaussianBlur(np.ascontiguousarray(h[:18].transpose(1, 2, 0)), (0, 0), 1.0,
                                  borderType=cv2.BORDER_CONSTANT).transpose(2, 0, 1)
        cells = np.rint(CODEC.spec.pixels_to_cells(keypoints[..., :2])).astype(int)
        rows, cols = cells[..., 1].clip(0, smooth.shape[1] - 1), cells[..., 0].clip(0, smooth.shape[2] - 1)
        truth = smooth[np.arange(18), rows, cols][keypoints[..., 2] > 0]
        under.append(np.mean(truth < 4 * noise_sigma(smooth)))
        ours += people_to_coco_results(decode(h, p), image_id)
        unbounded += people_to_coco_results(decode(h, p, signal_fraction=1.0), image_id)
    assert np.mean(under) > 0.6  # most true peaks lie under the unbounded threshold
    assert people_found(coco, ours) >= 6  # of 12 annotated
    assert people_found(coco, unbounded) <= people_found(coco, ours) - 3

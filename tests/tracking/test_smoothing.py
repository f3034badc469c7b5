"""OneEuroSmoother: jitter removed, steps followed, missing keypoints carried briefly."""

from __future__ import annotations

import numpy as np

from pafpose.codec.people import Person
from pafpose.tracking import OneEuroSmoother


def _static_pose(rng, frames, noise):
    base = np.column_stack([rng.uniform(100, 300, (18, 2)), np.full(18, 0.8)])
    out = []
    for _ in range(frames):
        kp = base.copy()
        kp[:, :2] += rng.normal(0, noise, (18, 2))
        out.append(kp)
    return base, out


def test_smoothing_reduces_jitter_and_follows_a_step_with_small_lag():
    rng = np.random.default_rng(0)
    fps = 30.0
    base, noisy = _static_pose(rng, 90, 2.0)
    smoother = OneEuroSmoother()
    smoothed = [smoother.update([Person(kp, 1.0, track_id=3)], i / fps)[0].keypoints for i, kp in enumerate(noisy)]
    raw_jitter = np.std([kp[:, :2] - base[:, :2] for kp in noisy[30:]])
    smooth_jitter = np.std([kp[:, :2] - base[:, :2] for kp in smoothed[30:]])
    assert smooth_jitter < 0.5 * raw_jitter
    # A 60-pixel step (the person moved): the filter reaches 90 % of it within 5 frames.
    step = [Person(np.column_stack([base[:, :2] + [60, 0], base[:, 2]]), 1.0, track_id=3) for _ in range(10)]
    xs = [smoother.update([p], (90 + i) / fps)[0].keypoints[:, 0].mean() for i, p in enumerate(step)]
    assert xs[4] - base[:, 0].mean() > 0.9 * 60
    # Untracked people pass through untouched; inputs are not modified.
    free = Person(noisy[0].copy(), 1.0)
    assert smoother.update([free], 200 / fps)[0] is free


def test_smoothing_carries_a_missing_keypoint_for_a_few_frames_then_forgets():
    smoother = OneEuroSmoother(carry_frames=2)
    kp = np.column_stack([np.linspace(10, 180, 18), np.linspace(20, 200, 18), np.full(18, 0.9)])
    for i in range(3):
        (out,) = smoother.update([Person(kp.copy(), 1.0, track_id=0)], i)
    missing = kp.copy()
    missing[5] = 0
    confidences = []
    for i in range(3, 7):
        (out,) = smoother.update([Person(missing.copy(), 1.0, track_id=0)], i)
        confidences.append(out.keypoints[5, 2])
        assert out.carried[5] == (i < 5) and not out.carried[np.arange(18) != 5].any()
    assert confidences[0] < 0.9 and confidences[1] < confidences[0] and confidences[2:] == [0, 0]
    np.testing.assert_allclose(out.keypoints[5], 0)
    # State is dropped for ids gone longer than carry_frames.
    for i in range(7, 11):
        smoother.update([], i)
    assert smoother.num_states == 0



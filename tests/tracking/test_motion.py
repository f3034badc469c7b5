"""testkit.motion: the walking people and photo views the tracker is measured on."""

from __future__ import annotations

import numpy as np

from testkit.motion import make_scenario, photo_sequence


def test_motion_scenarios_are_seeded_and_hold_what_they_promise():
    a, b = make_scenario("crossing", 60, seed=3), make_scenario("crossing", 60, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a.keypoints, b.keypoints))
    occlusion = make_scenario("occlusion", 120, seed=0)
    assert any(len(ids) == 0 for ids in occlusion.ids)  # blank frames
    hidden = [(kp[..., 2] == 1).all(axis=1).any() for kp in occlusion.keypoints if len(kp)]
    assert any(hidden)  # someone wholly hidden
    leave = make_scenario("leave/re-enter", 300, seed=0)
    counts = [len(ids) for ids in leave.ids]
    assert min(counts) < max(counts)  # people leave the frame and come back


def test_photo_sequence_moves_annotations_with_the_view():
    image = np.zeros((200, 300, 3), np.uint8)
    image[50:60, 100:110] = 255  # a marker at the annotated keypoint
    kp = np.zeros((17, 3))
    kp[0] = (104.5, 54.5, 2)
    seq = photo_sequence(image, [{"id": 7, "num_keypoints": 1, "keypoints": kp.reshape(-1).tolist()}],
                         frames=5, output_size=(160, 120), seed=1)
    assert len(seq) == 5 and seq.images[0].shape == (120, 160, 3)
    for ids, keypoints, view in zip(seq.ids, seq.keypoints, seq.images):
        if len(ids):
            assert ids.tolist() == [7]
            x, y = np.round(keypoints[0, 0, :2]).astype(int)
            assert view[y, x].min() > 128  # the marker is where the keypoint went



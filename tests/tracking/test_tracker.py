"""People over time: tracker ids, smoothing, motion scenarios, per-video outputs, render styles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pafpose.codec.head import PafCodec
from pafpose.codec.people import Person
from pafpose.codec.skeleton import COCO17, COCO18, OPENPOSE_COLOURS, convert_keypoints
from testkit.motion import Walker, make_scenario, photo_sequence, walking_sequence
from pafpose.inference.evaluate import people_to_coco_results
from pafpose.inference.render import draw_people, track_colour
from pafpose.io.outputs import openpose_json
from pafpose.io.tracks import PoseTrackWriter, TrackTableWriter, read_posetrack, read_track_table
from pafpose.tracking import OneEuroSmoother, PoseTracker, TrackerConfig

CODEC = PafCodec()


def _decoded(keypoints: np.ndarray, size) -> list[Person]:
    """People decoded from maps of (P, 17, 3) COCO-17 keypoints' visible (v=2) ones."""
    kp = keypoints.copy()
    kp[..., 2] = (kp[..., 2] > 1).astype(float)
    heatmaps, pafs = CODEC.encode(convert_keypoints(kp, COCO18), size)
    return CODEC.decode(heatmaps, pafs)


def _identities(seq, tracked) -> dict[int, list[int]]:
    """Ground-truth id -> the track ids given to it, frame by frame (the tracked people with most
    of its visible keypoints, within 10 px of them on average)."""
    seen: dict[int, list[int]] = {}
    for ids, truth, people in zip(seq.ids, seq.keypoints, tracked):
        for gid, kp in zip(ids.tolist(), truth):
            for person in people:
                found = person.to_coco17()
                both = (kp[:, 2] > 1) & (found[:, 2] > 0)
                if both.sum() >= max(5, 0.6 * (kp[:, 2] > 1).sum()) and person.track_id >= 0 and \
                        np.hypot(*(found[both, :2] - kp[both, :2]).T).mean() < 10:
                    seen.setdefault(gid, []).append(person.track_id)
    return seen


def _track_sequence(seq, config=None):
    tracker = PoseTracker(config)
    out = [tracker.update(_decoded(kp, seq.image_size), i / seq.fps) for i, kp in enumerate(seq.keypoints)]
    return tracker, out


def _assert_no_duplicates(tracked):
    for people in tracked:
        ids = [p.track_id for p in people if p.track_id >= 0]
        assert len(ids) == len(set(ids))


def test_ids_kept_through_a_crossing_of_two_people_of_the_same_size():
    # Two people on (nearly) the same line walk at each other and cross; the nearer hides the other.
    walkers = [Walker(1, ((80, 300), (560, 300)), 150, speed=0.8, depth_scaled=False),
               Walker(2, ((560, 304), (80, 304)), 150, speed=0.8, depth_scaled=False)]
    seq = walking_sequence(walkers, 100, (640, 480))
    tracker, tracked = _track_sequence(seq)
    seen = _identities(seq, tracked)
    first = {gid: ids[0] for gid, ids in seen.items()}
    assert len(set(first.values())) == 2
    for gid, ids in seen.items():
        assert set(ids) == {first[gid]}, (gid, ids)  # one id each, before and after the crossing
    # They did cross: each ends on the other's side.
    start = {gid: kp[:, 0].mean() for gid, kp in zip(seq.ids[0], seq.keypoints[0])}
    end = {gid: kp[:, 0].mean() for gid, kp in zip(seq.ids[-1], seq.keypoints[-1])}
    assert start[1] < start[2] and end[1] > end[2]
    _assert_no_duplicates(tracked)


def test_ids_kept_through_blank_frames_and_a_total_occlusion():
    walkers = [Walker(1, ((100, 250), (540, 250)), 140, speed=0.7, hidden=((20, 24),)),
               Walker(2, ((540, 400), (100, 400)), 160, speed=0.7)]
    seq = walking_sequence(walkers, 70, (640, 480), blank=((40, 44),))
    assert all(len(ids) == 0 for ids in seq.ids[40:45])  # nothing seen in the blank frames
    tracker, tracked = _track_sequence(seq)
    assert all(not people for people in tracked[40:45])
    seen = _identities(seq, tracked)
    assert len(seen[1]) > 50 and len(set(seen[1])) == 1 and len(set(seen[2])) == 1
    assert seen[1][0] != seen[2][0]
    after = {p.track_id for people in tracked[25:] for p in people}
    assert after <= {seen[1][0], seen[2][0], -1}  # no new id after the occlusion or the gap


def _person(centre, scale=100.0, score=1.0) -> Person:
    template = convert_keypoints(np.column_stack([np.random.default_rng(0).uniform(-0.3, 0.3, (17, 2)),
                                                  np.ones(17)]), COCO18)
    kp = template.copy()
    kp[:, :2] = kp[:, :2] * scale + centre
    return Person(kp, score)


def test_far_person_gets_a_new_id_ids_are_never_reused_and_state_is_bounded():
    cfg = TrackerConfig(max_lost_frames=5)
    tracker = PoseTracker(cfg)
    (a,) = tracker.update([_person((100, 100))], 0)
    assert a.track_id == 0
    # The same person moved far away in the next frame is someone else: a new (tentative) track.
    (b,) = tracker.update([_person((600, 400))], 1)
    assert b.track_id == -1
    (b,) = tracker.update([_person((600, 400))], 2)
    assert b.track_id == 1  # confirmed on its second frame
    # An endless stream of people who each stay 3 frames somewhere new: every id is new when
    # first given, an id never comes back after its track was removed, memory stays bounded.
    last_frame: dict[int, int] = {0: 0, 1: 2}
    for frame in range(3, 2003):
        person = _person(((frame // 3) * 397 % 5000, 100 + (frame // 3) % 2 * 400))
        (p,) = tracker.update([person], frame)
        if p.track_id >= 0:
            if p.track_id not in last_frame:
                assert p.track_id == max(last_frame) + 1
            assert frame - last_frame.get(p.track_id, frame) <= cfg.max_lost_frames + 1
            last_frame[p.track_id] = frame
        assert tracker.num_tracks <= 2 + cfg.max_lost_frames
    assert len(last_frame) > 600


def test_tracker_handles_empty_frames_first_and_a_many_person_frame():
    tracker = PoseTracker()
    assert tracker.update([], 0) == [] and tracker.num_tracks == 0
    people = [_person((x, y)) for x in range(50, 1050, 200) for y in range(50, 850, 200)]
    ids = [p.track_id for p in tracker.update(people, 1)]
    assert sorted(ids) == list(range(20))
    # Shuffled and moved a little: every person keeps its id.
    order = np.random.default_rng(1).permutation(20)
    moved = [_person((x + 4, y - 3)) for x in range(50, 1050, 200) for y in range(50, 850, 200)]
    again = tracker.update([moved[i] for i in order], 2)
    assert [p.track_id for p in again] == [ids[i] for i in order]


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


def _tracked_people():
    people = [_person((120, 100)), _person((300, 160), score=0.5)]
    people[0].track_id, people[1].track_id = 4, 9
    people[1].keypoints[3] = 0  # a missing keypoint
    return people


def test_track_table_csv_and_jsonl_round_trip(tmp_path):
    people = _tracked_people()
    for suffix in (".csv", ".jsonl"):
        path = tmp_path / f"tracks{suffix}"
        with TrackTableWriter(path, COCO18) as table:
            table.write(0, 0.0, people)
            table.write(1, 1 / 30, [])
            table.write(2, 2 / 30, people[:1])
        rows = read_track_table(path)
        assert [(r["frame"], r["id"]) for r in rows] == [(0, 4), (0, 9), (2, 4)]
        assert rows[2]["time"] == pytest.approx(2 / 30, abs=1e-6)
        for row, person in zip(rows, people):
            for k, name in enumerate(COCO18.keypoint_names):
                np.testing.assert_allclose([row[f"{name}_x"], row[f"{name}_y"], row[f"{name}_c"]],
                                           person.keypoints[k], atol=1e-3)
    with pytest.raises(ValueError, match="coco17"):
        TrackTableWriter(tmp_path / "t.csv", COCO17).write(0, 0, people)
    with pytest.raises(ValueError, match=".csv or .jsonl"):
        TrackTableWriter(tmp_path / "t.txt")


def test_posetrack_json_round_trip(tmp_path):
    people = _tracked_people()
    path = tmp_path / "video.json"
    with PoseTrackWriter(path, video_id=3) as writer:
        for frame in range(3):
            writer.write(frame, frame / 30, people if frame != 1 else [])
    doc = read_posetrack(path)
    assert [im["frame_id"] for im in doc["images"]] == [1, 2, 3]
    assert all(im["vid_id"] == 3 for im in doc["images"])
    anns = doc["annotations"]
    assert [(a["image_id"], a["track_id"]) for a in anns] == [(1, 4), (1, 9), (3, 4), (3, 9)]
    np.testing.assert_allclose(np.reshape(anns[0]["keypoints"], (17, 3))[:, :2],
                               people[0].to_coco17()[:, :2], atol=1e-3)
    assert len(anns[0]["scores"]) == 17 and doc["categories"][0]["keypoints"] == list(COCO17.keypoint_names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video.json"]  # spools removed


def test_openpose_json_and_coco_results_carry_track_ids_only_when_tracked():
    people = _tracked_people()
    untracked = [Person(p.keypoints.copy(), p.score) for p in people]
    doc = openpose_json(untracked)
    assert [e["person_id"] for e in doc["people"]] == [[-1], [-1]]
    # Byte for byte what it was before tracking existed (the formula of the previous release).
    before = {"version": 1.3, "people": [{
        "person_id": [-1],
        "pose_keypoints_2d": [round(float(v), 3) for v in np.where(p.keypoints[:, 2:] > 0, p.keypoints, 0).reshape(-1)],
        **{key: [] for key in ("face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d",
                               "pose_keypoints_3d", "face_keypoints_3d", "hand_left_keypoints_3d",
                               "hand_right_keypoints_3d")}} for p in untracked]}
    assert json.dumps(doc) == json.dumps(before)
    assert [e["person_id"] for e in openpose_json(people)["people"]] == [[4], [9]]
    assert all("track_id" not in r for r in people_to_coco_results(untracked, 1))
    assert [r["track_id"] for r in people_to_coco_results(people, 1)] == [4, 9]


def test_controlnet_image_is_black_with_openpose_colours_read_as_rgb():
    image = np.full((240, 320, 3), 200, np.uint8)
    kp = np.zeros((18, 3))
    kp[1] = (160, 60, 0.9)  # neck
    kp[2] = (100, 60, 0.9)  # right shoulder: limb 0, OpenPose colour 0
    out = draw_people(image, [Person(kp, 1.0)], style="controlnet")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out[200:, :].max() == 0 and out[:, 200:].max() == 0  # black where no person
    r, g, b = OPENPOSE_COLOURS[0]  # ControlNet reads the table as RGB: limb 0 is red
    np.testing.assert_array_equal(out[60, 130], np.round(np.array([b, g, r]) * 0.6))
    r, g, b = OPENPOSE_COLOURS[2]  # the right shoulder's dot, at full colour
    np.testing.assert_array_equal(out[60, 100], [b, g, r])
    assert draw_people(image, [], style="controlnet").max() == 0


def test_track_style_colours_each_id_and_labels_it():
    image = np.zeros((200, 300, 3), np.uint8)
    kp = np.zeros((18, 3))
    kp[1], kp[8] = (150, 80, 1.0), (150, 160, 1.0)  # neck -> right hip
    out = draw_people(image, [Person(kp, 1.0, track_id=5)], style="track", thickness=3)
    np.testing.assert_allclose(out[120, 150], track_colour(5), atol=40)
    assert out[:70].any()  # the id above the head
    assert track_colour(5) != track_colour(6)
    with pytest.raises(ValueError, match="render style"):
        draw_people(image, [], style="neon")

"""Outputs of tracked people: track tables, PoseTrack JSON, OpenPose JSON, render styles."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tracking_helpers import body

from pafpose.codec.people import Person
from pafpose.codec.skeleton import COCO17, COCO18, OPENPOSE_COLOURS
from pafpose.inference.evaluate import people_to_coco_results
from pafpose.inference.render import draw_people, track_colour
from pafpose.io.outputs import openpose_json
from pafpose.io.tracks import PoseTrackWriter, TrackTableWriter, read_posetrack, read_track_table


def _person(centre, scale=100.0, score=1.0) -> Person:
    return body(centre, scale, score=score)


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

"""Output files (OpenPose JSON, COCO results), atomic writes, rendering, media discovery/reading."""

from __future__ import annotations

import contextlib
import io
import json
import os

import cv2
import numpy as np
import pytest

from pafpose.codec.people import Person
from pafpose.codec.skeleton import coco17_to_coco18
from pafpose.errors import UserError
from pafpose.inference.evaluate import people_to_coco_results as coco_results
from pafpose.inference.render import draw_people
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco
from pafpose.io.media import VideoReader, VideoWriter, discover_inputs
from pafpose.io.outputs import openpose_json, write_json


def _people_of_sample_image():
    coco = load_coco(SAMPLE_ANNOTATIONS)
    image_id = sorted(coco.getImgIds())[0]
    anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=[image_id])) if a["num_keypoints"] > 0]
    people = []
    for a in anns:
        kp = coco17_to_coco18(np.asarray(a["keypoints"], np.float64).reshape(17, 3))
        kp[:, 2] = np.where(kp[:, 2] > 0, 0.9, 0.0)
        kp[kp[:, 2] == 0, :2] = 0
        people.append(Person(keypoints=kp, score=0.8))
    return coco, image_id, people


def test_openpose_json_layout():
    _, _, people = _people_of_sample_image()
    doc = json.loads(json.dumps(openpose_json(people)))
    assert doc["version"] == 1.3 and len(doc["people"]) == len(people)
    for entry, person in zip(doc["people"], people):
        flat = entry["pose_keypoints_2d"]
        assert len(flat) == 18 * 3 and all(isinstance(v, float) for v in flat)
        np.testing.assert_allclose(np.reshape(flat, (18, 3)), person.keypoints, atol=1e-3)
        for key in ("face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d"):
            assert entry[key] == []
    assert openpose_json([]) == {"version": 1.3, "people": []}


def test_coco_results_layout_and_load_in_pycocotools():
    coco, image_id, people = _people_of_sample_image()
    results = coco_results(people, image_id)
    assert len(results) == len(people)
    for r, person in zip(results, people):
        assert set(r) == {"image_id", "category_id", "keypoints", "score"}
        assert r["image_id"] == image_id and r["category_id"] == 1 and r["score"] == 0.8
        kp = np.reshape(r["keypoints"], (17, 3))
        np.testing.assert_allclose(kp[:, :2], person.to_coco17()[:, :2], atol=1e-3)
        assert set(kp[:, 2]) <= {0.0, 1.0}
    with contextlib.redirect_stdout(io.StringIO()):
        loaded = coco.loadRes(json.loads(json.dumps(results)))
    assert len(loaded.getAnnIds()) == len(people)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "out.json"
    write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}

    def interrupted(src, dst):
        raise KeyboardInterrupt  # e.g. Ctrl-C after the data was written, before the rename

    monkeypatch.setattr("pafpose.io.outputs.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(path.parent) == ["out.json"]  # no temporary file left behind


def test_render_draws_limbs_and_skips_ear_shoulder_limbs():
    image = np.zeros((120, 160, 3), np.uint8)
    kp = np.zeros((18, 3))
    kp[1] = (80, 30, 1.0)  # neck
    kp[2] = (60, 30, 1.0)  # right shoulder: limb 0 (neck -> r_sho), colour 0 = pure blue
    kp[16] = (60, 100, 1.0)  # right ear: only limb 17 (r_sho -> r_ear), not drawn
    out = draw_people(image, [Person(keypoints=kp, score=1.0)], thickness=3)
    assert out.shape == image.shape and out.dtype == np.uint8
    mid_limb = out[30, 70]
    assert mid_limb[0] > 150 and mid_limb[1] < 60 and mid_limb[2] < 60
    assert out[65, 60].max() == 0  # half way to the ear: nothing drawn
    faint = kp.copy()
    faint[:, 2] *= 0.2
    dim = draw_people(image, [Person(keypoints=faint, score=1.0)], thickness=3)
    assert dim[30, 70, 0] < mid_limb[0]  # lower confidence -> more transparent
    assert draw_people(image, []).max() == 0


def _write_video(path, frames=5, size=(64, 48)):
    with VideoWriter(path, 10.0, size) as writer:
        for i in range(frames):
            writer.write(np.full((size[1], size[0], 3), 20 * i % 250, np.uint8))


def test_discover_inputs_recursive_and_errors(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "a" / "x.jpg"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "a" / "b" / "x.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "a" / "notes.txt").write_text("hi")
    (tmp_path / "empty").mkdir()
    _write_video(tmp_path / "clip.avi")
    inputs, errors = discover_inputs([tmp_path / "a", tmp_path / "clip.avi", tmp_path / "nope.jpg",
                                      tmp_path / "a" / "notes.txt", tmp_path / "empty"])
    assert [(i.kind, i.name) for i in inputs] == [("image", "b/x"), ("image", "x"), ("video", "clip")]
    assert len(errors) == 3
    assert "nope.jpg: no such file" in errors[0]
    assert "notes.txt: not an image or video" in errors[1]
    assert "empty: folder contains no images" in errors[2]


def test_video_round_trip_and_bad_videos(tmp_path):
    _write_video(tmp_path / "ok.avi", frames=6)
    frames = list(VideoReader(tmp_path / "ok.avi"))
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert [f.mean() for f in frames] == pytest.approx([20 * i for i in range(6)], abs=3)

    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(UserError, match="empty.mp4"):
        list(VideoReader(tmp_path / "empty.mp4"))
    (tmp_path / "junk.mp4").write_bytes(b"\x00not a video" * 100)
    with pytest.raises(UserError, match="junk.mp4"):
        list(VideoReader(tmp_path / "junk.mp4"))
    _write_video(tmp_path / "long.avi", frames=60)
    data = (tmp_path / "long.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(UserError, match="cut.avi.*truncated"):
        for frame in VideoReader(tmp_path / "cut.avi"):
            got.append(frame)
    assert 0 < len(got) < 60  # the frames before the cut were delivered

"""No two inputs of one run write the same output file, whatever their kinds."""

from __future__ import annotations

import json

import cv2
import numpy as np
from cli_helpers import grey_video, run


def test_an_image_named_like_a_video_frame_keeps_its_own_keypoints(tmp_path, weights):
    folder = tmp_path / "in"
    (folder / "a").mkdir(parents=True)
    cv2.imwrite(str(folder / "a" / "a_000000000000.jpg"), np.full((48, 64, 3), 90, np.uint8))
    grey_video(folder / "a.avi", 2)
    out = tmp_path / "out"
    code, _, err = run("infer", folder, "--weights", weights, "--out", out, "--quiet")
    assert code == 0, err
    manifest = {e["input"]: e["outputs"] for e in json.loads((out / "manifest.json").read_text())["inputs"]}
    assert manifest[str(folder / "a" / "a_000000000000.jpg")] == ["a/a_000000000000.jpg_keypoints.json"]
    assert manifest[str(folder / "a.avi")] == ["a/"]
    assert (out / "a" / "a_000000000000.jpg_keypoints.json").exists()
    assert (out / "a" / "a_000000000000_keypoints.json").exists()  # the video's frame 0, not overwritten


def test_an_earlier_run_s_renderings_inside_the_input_are_not_read_back(tmp_path, weights):
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "p.jpg"), np.full((48, 64, 3), 90, np.uint8))
    assert run("infer", photos, "--weights", weights, "--out", photos / "out1", "--render", "--quiet")[0] == 0
    assert (photos / "out1" / "p_rendered.jpg").exists()
    code, _, err = run("infer", photos, "--weights", weights, "--out", tmp_path / "out2", "--quiet")
    assert code == 0, err
    inputs = [e["input"] for e in json.loads((tmp_path / "out2" / "manifest.json").read_text())["inputs"]]
    assert inputs == [str(photos / "p.jpg")]

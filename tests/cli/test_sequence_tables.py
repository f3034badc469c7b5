"""``infer --sequence --track --tracks/--posetrack``: one table and one PoseTrack file per folder."""

from __future__ import annotations

import json

import cv2
import numpy as np
from cli_helpers import run


def test_sequence_folders_get_their_own_tables(tmp_path, weights):
    from pafpose.io.tracks import read_posetrack, read_track_table

    frames = tmp_path / "frames"
    for folder, count in ((frames, 3), (frames / "walk", 2)):
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            cv2.imwrite(str(folder / f"{i:04d}.jpg"), np.full((48, 64, 3), 40 * i + 20, np.uint8))
    out = tmp_path / "out"
    code, _, err = run("infer", frames, "--weights", weights, "--out", out, "--track", "--sequence",
                       "--tracks", "csv", "--posetrack", "--quiet")
    assert code == 0, err
    for stem, count, first in (("frames", 3, "0000.jpg"), ("walk", 2, "0000.jpg")):
        rows = read_track_table(out / f"{stem}_tracks.csv")
        assert {row["frame"] for row in rows} <= set(range(count))
        posetrack = read_posetrack(out / f"{stem}_posetrack.json")
        assert [im["frame_id"] for im in posetrack["images"]] == list(range(1, count + 1))
        assert posetrack["images"][0]["file_name"] == first
    manifest = {e["name"]: e["outputs"] for e in json.loads((out / "manifest.json").read_text())["inputs"]}
    assert {"frames_tracks.csv", "frames_posetrack.json"} <= set(manifest["0002"])
    assert {"walk_tracks.csv", "walk_posetrack.json"} <= set(manifest["walk/0001"])

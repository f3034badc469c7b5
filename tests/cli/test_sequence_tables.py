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
        assert {row["frame"] for row in rows} == set(range(count))
        posetrack = read_posetrack(out / f"{stem}_posetrack.json")
        assert [im["frame_id"] for im in posetrack["images"]] == list(range(1, count + 1))
        assert posetrack["images"][0]["file_name"] == first
    manifest = {e["name"]: e["outputs"] for e in json.loads((out / "manifest.json").read_text())["inputs"]}
    assert {"frames_tracks.csv", "frames_posetrack.json"} <= set(manifest["0002"])
    assert {"walk_tracks.csv", "walk_posetrack.json"} <= set(manifest["walk/0001"])


def test_a_resumed_sequence_is_run_whole_and_its_table_covers_every_image(tmp_path, weights, monkeypatch):
    from pafpose.inference import writer as writer_module
    from pafpose.io.tracks import read_track_table
    from pafpose.signals import Terminated

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"{i:04d}.jpg"), np.full((48, 64, 3), 40 * i + 20, np.uint8))
    out = tmp_path / "out"
    args = ["infer", frames, "--weights", weights, "--out", out, "--track", "--sequence", "--tracks", "csv",
            "--quiet"]
    write, written = writer_module.ResultWriter.write, []

    def stop_at_the_third(self, event):
        picture = write(self, event)
        if isinstance(event, writer_module.Frame):
            written.append(event)
            if len(written) == 3:
                raise Terminated()
        return picture

    monkeypatch.setattr(writer_module.ResultWriter, "write", stop_at_the_third)
    assert run(*args)[0] == 143
    monkeypatch.setattr(writer_module.ResultWriter, "write", write)
    code, _, err = run(*args, "--resume")
    assert code == 0, err
    table = read_track_table(out / "frames_tracks.csv")
    rows = {row["frame"] for row in table}
    assert rows == set(range(4))  # the whole sequence, not only the images after the stop


def test_torchrun_shares_out_whole_sequences(tmp_path):
    from pathlib import Path

    from pafpose.inference.sharding import Shard
    from pafpose.io.discovery import MediaInput

    inputs = [MediaInput(Path(f"{folder}/{i}.jpg"), "image", f"{folder}/{i}") for folder in "abc" for i in range(3)]
    folder = lambda item: Path(item.path).parent  # noqa: E731
    shares = [Shard(tmp_path, rank, 2).select(inputs, group=folder) for rank in range(2)]
    assert [sorted({str(folder(item)) for item in share}) for share in shares] == [["a", "c"], ["b"]]
    assert sorted(shares[0] + shares[1], key=inputs.index) == inputs

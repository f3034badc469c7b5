"""``pafpose infer --resume``: what an earlier run finished is skipped, and nothing is counted twice."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from cli_helpers import grey_video, run

from pafpose import errors
from pafpose.inference import writer as writer_module
from pafpose.signals import Terminated


def _photos(folder, count):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), np.full((48, 64, 3), 30 * i, np.uint8))
    return folder


def _truncated_clip(path, frames=20):
    grey_video(path, frames)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])  # the header still promises every frame
    return path


def _frames_per_source(out):
    images = json.loads((out / "images.json").read_text())
    results = json.loads((out / "results.json").read_text())
    assert {r["image_id"] for r in results} <= {im["id"] for im in images}
    assert len({im["id"] for im in images}) == len(images)
    keys = [(im["source"], im.get("frame")) for im in images]
    return keys


def _stop_after(monkeypatch, frames):
    """The run is stopped (as by SIGTERM) once ``frames`` frames were written."""
    write = writer_module.ResultWriter.write
    seen = []

    def write_then_stop(self, event):
        picture = write(self, event)
        if isinstance(event, writer_module.Frame):
            seen.append(event)
            if len(seen) == frames:
                raise Terminated()
        return picture

    monkeypatch.setattr(writer_module.ResultWriter, "write", write_then_stop)
    return lambda: monkeypatch.setattr(writer_module.ResultWriter, "write", write)


def test_a_partly_failed_input_is_not_added_again_on_every_resume(tmp_path, weights):
    clip = _truncated_clip(tmp_path / "clip.avi")
    out = tmp_path / "out"
    args = ["infer", clip, "--weights", weights, "--out", out, "--format", "coco", "--quiet"]
    code, _, err = run(*args)
    assert code == errors.EXIT_FAILED and "truncated" in err, err
    first = _frames_per_source(out)
    assert 0 < len(first) < 20
    for _ in range(2):
        code, _, err = run(*args, "--resume")
        assert code == errors.EXIT_FAILED, err
        assert sorted(_frames_per_source(out)) == sorted(first)  # redone, not added


@pytest.mark.parametrize("first_resumes", [False, True])
def test_an_interrupted_video_resumed_has_each_frame_once(tmp_path, monkeypatch, weights, first_resumes):
    folder = _photos(tmp_path / "in", 3)
    grey_video(folder / "clip.avi", 8)
    out = tmp_path / "out"
    args = ["infer", folder, "--weights", weights, "--out", out, "--format", "coco", "--quiet"]
    restore = _stop_after(monkeypatch, 6)  # the three photos, then three frames of the clip
    code, _, err = run(*args, *(["--resume"] if first_resumes else []))
    assert code == errors.EXIT_TERMINATED, err
    restore()
    code, _, err = run(*args, "--resume")
    assert code == 0, err
    keys = _frames_per_source(out)
    clip = str(folder / "clip.avi")
    assert sorted(k for k in keys if k[0] == clip) == [(clip, i) for i in range(8)]
    assert sorted(k for k in keys if k[0] != clip) == sorted((str(folder / f"{i:03d}.jpg"), None) for i in range(3))
    manifest = json.loads((out / "manifest.json").read_text())["inputs"]
    assert len(manifest) == 4 and not [e for e in manifest if "error" in e]


def test_a_resume_after_a_killed_sharded_run_skips_what_its_ranks_finished(tmp_path, monkeypatch, weights):
    """A killed torchrun run leaves its ranks' manifests in .parts/; --resume reads them."""
    folder = _photos(tmp_path / "in", 4)
    out = tmp_path / "out"
    args = ["infer", folder, "--weights", weights, "--out", out, "--format", "coco", "--quiet", "--resume"]
    restore = _stop_after(monkeypatch, 2)
    code, _, err = run(*args)  # a resumed run writes parts, as every torchrun rank does
    assert code == errors.EXIT_TERMINATED, err
    restore()
    assert (out / ".parts" / "rank0" / "manifest.json").exists()
    # A second rank of the killed run had finished 003.jpg.
    rank1 = out / ".parts" / "rank1"
    rank1.mkdir()
    (rank1 / "manifest.json").write_text(json.dumps({"inputs": [
        {"input": str(folder / "003.jpg"), "kind": "image", "name": "003", "frames": 1,
         "outputs": ["results.json", "images.json"]}]}))
    (rank1 / "images.json").write_text(json.dumps([{"id": 3, "file_name": "003",
                                                    "source": str(folder / "003.jpg")}]))
    (rank1 / "results.json").write_text("[]")
    written = []
    write = writer_module.ResultWriter.write
    monkeypatch.setattr(writer_module.ResultWriter, "write",
                        lambda self, event: written.append(event) or write(self, event))
    code, _, err = run(*args)
    assert code == 0, err
    redone = sorted({e.source.name for e in written})
    assert redone == ["001", "002"], redone  # 000 (rank 0; 001 was stopped before its end) and 003 (rank 1) were done
    assert sorted(k[0] for k in _frames_per_source(out)) == sorted(str(folder / f"{i:03d}.jpg") for i in range(4))
    assert not (out / ".parts").exists()


def test_a_run_without_resume_clears_what_a_killed_run_left(tmp_path, monkeypatch, weights):
    folder = _photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    args = ["infer", folder, "--weights", weights, "--out", out, "--format", "coco", "--quiet"]
    restore = _stop_after(monkeypatch, 1)
    assert run(*args, "--resume")[0] == errors.EXIT_TERMINATED
    restore()
    assert run(*args)[0] == 0 and not (out / ".parts").exists()


@pytest.mark.parametrize("change", [["--format", "coco"], ["--render"], ["--frame-step", "2"]])
def test_a_resume_asking_for_other_outputs_is_refused(tmp_path, weights, change):
    folder = _photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    args = ["infer", folder, "--weights", weights, "--out", out, "--quiet"]
    assert run(*args)[0] == 0
    code, _, err = run(*args, *change, "--resume")
    assert code == errors.EXIT_USAGE, err
    line = err.strip()
    assert "\n" not in line and line.startswith(f"pafpose infer: error: --resume: {out} was written with "), line
    assert run(*args, "--resume")[0] == 0  # the same options resume

"""What ``pafpose infer`` does when an output cannot be written: one line naming it, the rest kept."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import cv2
import numpy as np
from cli_helpers import child_env, grey_video, run

from pafpose import errors


def _photos(folder, count, size=(64, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), np.full((size[1], size[0], 3), 20 * i % 250, np.uint8))
    return folder


def _infer_with_file_size_limit(limit: int, *args):
    """``pafpose infer ARGS`` in a process that may write no file over ``limit`` bytes."""
    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "pafpose.cli", "infer", *map(str, args), "--quiet",
                           "--backend", "torch"], capture_output=True, text=True,
                          env=child_env(OMP_NUM_THREADS="1"),
                          preexec_fn=limited, timeout=300)


def test_a_rendered_video_that_cannot_be_written_fails_that_input(tmp_path, weights):
    clip = grey_video(tmp_path / "clip.avi", 40, size=(64, 48))
    out = tmp_path / "out"
    done = _infer_with_file_size_limit(4000, clip, "--weights", weights, "--out", out, "--render",
                                       "--format", "none")
    assert done.returncode == errors.EXIT_FAILED, done.stderr
    assert f"{out / 'clip_rendered.mp4'}: writing the video failed" in done.stderr
    assert "moov atom" not in done.stderr  # FFmpeg's own line when the check opens the broken file
    entry = json.loads((out / "manifest.json").read_text())["inputs"][0]
    assert "writing the video failed" in entry["error"] and entry["outputs"] == []
    assert sorted(p.name for p in out.iterdir()) == [".pafpose.lock", "manifest.json"]  # no unplayable file


def test_a_results_file_over_the_size_limit_is_one_line_and_leaves_the_manifest(tmp_path, weights):
    folder = _photos(tmp_path / "in", 12)
    out = tmp_path / "out"
    done = _infer_with_file_size_limit(3000, folder, "--weights", weights, "--out", out, "--format", "coco")
    assert done.returncode == errors.EXIT_OS_ERROR, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if line]
    assert lines[-1] in (f"pafpose infer: {out / 'results.json'}: File too large",
                         f"pafpose infer: {out / 'images.json'}: File too large"), lines
    assert not [p.name for p in out.iterdir() if p.name.endswith(".partial")]
    manifest = json.loads((out / "manifest.json").read_text())["inputs"]
    assert manifest and all("error" in entry and "results.json" not in entry["outputs"] for entry in manifest)


def test_an_output_name_too_long_fails_only_that_input(tmp_path, weights):
    folder = _photos(tmp_path / "in", 2)
    long = folder / ("x" * 245 + ".jpg")  # fits; its "_keypoints.json" does not
    long.write_bytes((folder / "000.jpg").read_bytes())
    out = tmp_path / "out"
    code, _, err = run("infer", folder, "--weights", weights, "--out", out, "--quiet")
    assert code == errors.EXIT_FAILED, err
    assert f"{out / ('x' * 245 + '_keypoints.json')}: File name too long" in err
    assert (out / "000_keypoints.json").exists() and (out / "001_keypoints.json").exists()
    manifest = {e["name"]: e for e in json.loads((out / "manifest.json").read_text())["inputs"]}
    assert "File name too long" in manifest["x" * 245]["error"] and "error" not in manifest["000"]


def test_a_name_that_fits_gets_a_temporary_that_fits(tmp_path):
    from pafpose.io.outputs import write_json

    path = tmp_path / ("y" * 240 + "_keypoints.json")  # 255 bytes: the most a name may have
    write_json(path, {"people": []})
    assert json.loads(path.read_text()) == {"people": []}

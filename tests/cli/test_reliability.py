"""Killed, full, read-only, shared: long jobs keep finished work and every failure is one line
with its own exit status (issue 21)."""

from __future__ import annotations

import builtins
import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import child_env, run
from train_helpers import PoseSamples

from pafpose import errors
from pafpose.cli import main
from pafpose.io.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "tiny.yaml")


def _signalling_dataset(monkeypatch, *signals_at: tuple[int, int]):
    """Training data that sends ``signal`` to this process when item ``call`` is read."""
    class Signalling(PoseSamples):
        calls = 0

        def __getitem__(self, index):
            Signalling.calls += 1
            for call, signum in signals_at:
                if Signalling.calls == call:
                    os.kill(os.getpid(), signum)
            return super().__getitem__(index)

    monkeypatch.setattr("pafpose.training.loop.build_train_dataset", lambda cfg: Signalling(count=8))


def _train(out: Path, *extra: str) -> tuple[int, str, str]:
    return run("train", "--config", TINY, "--out", out, "--iterations", "50", "--no-progress", *extra)


def test_sigterm_in_training_saves_and_exits_resumable(tmp_path, monkeypatch):
    _signalling_dataset(monkeypatch, (3, signal.SIGTERM))
    code, out, err = _train(tmp_path / "run")
    assert code == errors.EXIT_RESUMABLE, err
    assert "interrupted at iteration 2" in out
    assert load_checkpoint(tmp_path / "run" / "last.pt")["iteration"] == 2
    assert not list((tmp_path / "run").glob(".*.tmp"))
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_a_second_signal_stops_validation_at_once(tmp_path, monkeypatch):
    """The first Ctrl-C waits for the step; a second one must not wait for a long validation."""
    _signalling_dataset(monkeypatch)
    validations = []

    def slow_validation(*args, **kwargs):
        validations.append(1)
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C ...
        os.kill(os.getpid(), signal.SIGINT)  # ... and again: this one must stop the run
        raise AssertionError("validation went on after the second Ctrl-C")

    monkeypatch.setattr("pafpose.training.loop.validate_coco", slow_validation)
    code, _, err = _train(tmp_path / "run", "--val-annotations", str(tmp_path / "val.json"),
                          "--set", "val_every=10")
    assert code == errors.EXIT_INTERRUPTED and err.strip() == "pafpose train: interrupted", err
    assert validations == [1]
    assert load_checkpoint(tmp_path / "run" / "last.pt")["iteration"] == 10  # saved before validating


def test_a_second_train_into_the_same_out_is_refused(tmp_path):
    out = tmp_path / "run"
    code = ("import sys; from pathlib import Path; from pafpose.io.outputs import lock_folder\n"
            "with lock_folder(Path(sys.argv[1]), 'pafpose train'):\n"
            "    print('locked', flush=True); sys.stdin.read()")
    other = subprocess.Popen([sys.executable, "-c", code, str(out)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env=child_env())
    try:
        assert other.stdout.readline().strip() == "locked"
        status, _, err = _train(out)
        assert status == errors.EXIT_USAGE
        assert f"pafpose train (pid {other.pid}) is writing there" in err and len(err.splitlines()) == 1
        assert not (out / "last.pt").exists() and not (out / "metrics.jsonl").exists()
    finally:
        other.communicate("")


def _full_disk(monkeypatch, folder: Path):
    """Every file opened for writing under ``folder`` behaves as on a full disk (it is /dev/full)."""
    real_open, real_fdopen = builtins.open, os.fdopen

    def full_open(file, mode="r", *args, **kwargs):
        if "w" in mode and Path(os.fspath(file)).resolve().is_relative_to(folder):
            return real_open("/dev/full", "wb" if "b" in mode else "w")
        return real_open(file, mode, *args, **kwargs)

    def full_fdopen(fd, mode="r", *args, **kwargs):  # the atomic writer's temporary files
        if os.path.realpath(f"/proc/self/fd/{fd}").startswith(str(folder)):
            os.close(fd)
            fd = os.open("/dev/full", os.O_WRONLY)
        return real_fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", full_open)
    monkeypatch.setattr(os, "fdopen", full_fdopen)


def test_train_on_a_full_disk_is_one_line_with_its_own_status(tmp_path, monkeypatch):
    monkeypatch.setattr("pafpose.training.loop.build_train_dataset", lambda cfg: PoseSamples(count=8))
    _full_disk(monkeypatch, tmp_path.resolve())
    code, _, err = _train(tmp_path / "run")
    assert code == errors.EXIT_OS_ERROR, err
    assert err.strip() == f"pafpose train: {tmp_path / 'run' / 'last.pt'}: No space left on device"
    assert not list((tmp_path / "run").glob("*.pt")) and not list((tmp_path / "run").glob(".*.tmp"))


def test_synth_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    _full_disk(monkeypatch, tmp_path.resolve())
    code, _, err = run("synth", "--out", tmp_path / "s", "--num-images", "2")
    assert code == errors.EXIT_OS_ERROR
    assert err.strip().splitlines()[-1] == (f"pafpose synth: {tmp_path / 's' / 'images' / '000000.jpg'}: "
                                            "No space left on device")
    assert not [p for p in (tmp_path / "s").rglob("*") if p.is_file()]


@pytest.mark.requires("onnx")
def test_export_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    _full_disk(monkeypatch, tmp_path.resolve())
    code, _, err = run("export", "--weights", "synthetic-small", "--onnx", tmp_path / "m.onnx")
    assert code == errors.EXIT_OS_ERROR, err
    assert err.strip().splitlines()[-1].endswith("No space left on device"), err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["train", "synth", "infer",
                                     pytest.param("export", marks=pytest.mark.requires("onnx"))])
def test_out_under_a_file_is_one_line(tmp_path, monkeypatch, command, weights):
    monkeypatch.setattr("pafpose.training.loop.build_train_dataset", lambda cfg: PoseSamples(count=8))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    argv = {"train": ["train", "--config", TINY, "--out", blocker / "run", "--no-progress"],
            "synth": ["synth", "--out", blocker / "s", "--num-images", "1"],
            "export": ["export", "--weights", "synthetic-small", "--onnx", blocker / "m.onnx"],
            "infer": ["infer", _jpeg(tmp_path / "p.jpg"), "--weights", weights, "--out", blocker / "o"],
            }[command]
    code, _, err = run(*argv)
    assert code == errors.EXIT_OS_ERROR, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"pafpose {command}: {blocker}") and "Not a directory" in line, err


def _read_only(monkeypatch, folder: Path) -> None:
    """``folder`` refuses new files: chmod where that binds, else (root ignores permissions) the
    ways pafpose creates files there are patched to refuse as a read-only folder would."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return
    import tempfile

    real_mkstemp, real_open = tempfile.mkstemp, builtins.open

    def refuse(path) -> None:
        if Path(os.fspath(path)).resolve().is_relative_to(folder.resolve()):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    def mkstemp(*args, dir=None, **kwargs):
        refuse(Path(dir or ".", "tmp"))
        return real_mkstemp(*args, dir=dir, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(builtins, "open", open_)


@pytest.mark.parametrize("command", ["synth", "train"])
def test_a_read_only_out_is_one_line(tmp_path, monkeypatch, command):
    monkeypatch.setattr("pafpose.training.loop.build_train_dataset", lambda cfg: PoseSamples(count=8))
    out = tmp_path / "ro"
    _read_only(monkeypatch, out)
    argv = {"synth": ["synth", "--out", out, "--num-images", "1"],
            "train": ["train", "--config", TINY, "--out", out, "--no-progress"]}[command]
    try:
        code, _, err = run(*argv)
    finally:
        out.chmod(0o755)
    assert code == errors.EXIT_OS_ERROR, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"pafpose {command}: {out}") and line.endswith("Permission denied"), err


# -- folder discovery -----------------------------------------------------------------------------


def _jpeg(path: Path, size=(40, 30)) -> Path:
    import cv2
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", np.full((size[1], size[0], 3), 90, np.uint8))
    path.write_bytes(data.tobytes())
    return path


def test_discovery_follows_symlinked_folders_once_and_skips_hidden_names(tmp_path):
    from pafpose.io.media import discover_inputs

    photos = tmp_path / "photos"
    _jpeg(photos / "a.jpg")
    _jpeg(photos / "._a.jpg").write_bytes(b"\0\5\x16\7 macOS resource fork")
    _jpeg(photos / ".thumbnails" / "a.jpg")
    _jpeg(photos / "b.jfif")
    _jpeg(tmp_path / "elsewhere" / "c.jpg")
    (photos / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (photos / "loop").symlink_to(photos, target_is_directory=True)  # a cycle: must end
    (photos / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    inputs, failures = discover_inputs([photos])
    assert [(i.name, i.kind) for i in inputs] == [("a", "image"), ("b", "image"), ("linked/c", "image")]
    assert failures == [f"{photos / 'gone.jpg'}: broken link (its target is missing)"]


@pytest.mark.requires("pillow")
def test_jfif_and_gif_are_read_or_reported(tmp_path):
    from PIL import Image

    from pafpose.io.images import read_image
    from pafpose.io.media import discover_inputs

    Image.new("RGB", (24, 16), (200, 10, 10)).save(tmp_path / "still.gif")
    _jpeg(tmp_path / "photo.jfif")
    inputs, failures = discover_inputs([tmp_path])
    assert sorted(i.name for i in inputs) == ["photo", "still"] and not failures
    assert read_image(tmp_path / "photo.jfif").shape == (30, 40, 3)
    try:
        assert read_image(tmp_path / "still.gif").shape == (16, 24, 3)
    except errors.UserError as err:  # an OpenCV without a GIF decoder: one line naming it
        assert "still.gif" in str(err) and "\n" not in str(err)


def test_discovery_into_its_own_folder_skips_only_the_outputs(tmp_path):
    from pafpose.io.media import discover_inputs

    same = tmp_path / "same"
    _jpeg(same / "a.jpg")
    _jpeg(same / "a_rendered.jpg")  # what an earlier run wrote there
    _jpeg(same / "sub" / "b.jpg")
    inputs, failures = discover_inputs([same], exclude=same)
    assert [i.name for i in inputs] == ["a", "sub/b"] and not failures
    inputs, _ = discover_inputs([same / "sub"], exclude=same)  # --out above the input
    assert [i.name for i in inputs] == ["b"]
    inputs, _ = discover_inputs([same], exclude=same / "sub")  # --out inside the input: all of it
    assert [i.name for i in inputs] == ["a", "a_rendered"]


def test_infer_same_out_same(tmp_path, weights):
    same = tmp_path / "same"
    _jpeg(same / "a.jpg", (64, 48))
    for _ in range(2):  # the second run must not take the first one's rendering as an input
        code, _, err = run("infer", same, "--out", same, "--weights", weights, "--render",
                           "--input-height", "64", "--quiet")
        assert code == 0, err
    assert (same / "a_keypoints.json").exists() and (same / "a_rendered.jpg").exists()
    assert not (same / "a_rendered_rendered.jpg").exists()


# -- annotations ---------------------------------------------------------------------------------


def _annotated(tmp_path: Path, size=(40, 30), annotated=(40, 30), **ann_fields) -> Path:
    import json

    image = _jpeg(tmp_path / "images" / "p.jpg", size)
    keypoints = [0] * 51
    keypoints[:3] = [10, 10, 2]
    ann = {"id": 1, "image_id": 1, "category_id": 1, "keypoints": keypoints, "bbox": [5, 5, 20, 10],
           "num_keypoints": 1, "iscrowd": 0, **ann_fields}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": image.name, "width": annotated[0],
                                            "height": annotated[1]}],
                                "annotations": [ann], "categories": [{"id": 1, "name": "person"}]}))
    return path


def test_a_missing_area_is_filled_from_segmentation_or_box(tmp_path):
    from pafpose.io.annotations import load_coco

    coco = load_coco(_annotated(tmp_path))
    assert coco.anns[1]["area"] == 200.0  # the box: 20 x 10
    square = [[0, 0, 10, 0, 10, 10, 0, 10]]
    coco = load_coco(_annotated(tmp_path, segmentation=square))
    assert coco.anns[1]["area"] == pytest.approx(100, abs=12)  # the polygon, rasterised
    assert load_coco(_annotated(tmp_path, area=55.5)).anns[1]["area"] == 55.5  # given: kept


def test_eval_without_area_runs_and_checks_limit(tmp_path, monkeypatch, weights):
    from pafpose.inference.evaluate import validate_coco
    from pafpose.io.checkpoint import load_model

    annotations = _annotated(tmp_path, (64, 48), (64, 48))
    monkeypatch.chdir(tmp_path)
    assert set(validate_coco(load_model(weights)[0], annotations, input_height=64)) >= {"AP", "AR"}
    code, out, err = run("eval", "--weights", weights, "--annotations", annotations, "--quiet",
                         "--input-height", "64")
    assert code == 0, err
    assert "Average Precision" in out and not (tmp_path / "results.json").exists()
    code, _, err = run("eval", "--weights", weights, "--annotations", annotations, "--limit", "-1")
    assert code == errors.EXIT_USAGE and "--limit must be at least 1" in err
    code, out, err = run("eval", "--weights", weights, "--annotations", annotations, "--quiet",
                         "--input-height", "64", "--out", tmp_path / "r" / "results.json")
    assert code == 0 and (tmp_path / "r" / "results.json").exists(), err
    resized = _annotated(tmp_path / "resized", (64, 48), (128, 96))
    code, _, err = run("eval", "--weights", weights, "--annotations", resized, "--quiet")
    assert code == errors.EXIT_FAILED and "p.jpg: annotated as 128x96 pixels but the image is 64x48" in err


def test_infer_on_a_full_disk_is_one_line(tmp_path, monkeypatch, weights):
    photo = _jpeg(tmp_path / "p.jpg", (64, 48))
    _full_disk(monkeypatch, tmp_path.resolve())
    code, _, err = run("infer", photo, "--out", tmp_path / "out", "--weights", weights, "--render",
                       "--input-height", "64", "--quiet")
    assert code == errors.EXIT_OS_ERROR, err
    assert err.strip().splitlines()[-1].endswith("No space left on device")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp") or "_" in p.name]


def test_annotated_size_must_match_the_image(tmp_path):
    from pafpose.data import CocoPoseDataset
    from pafpose.data.config import DataConfig
    from pafpose.io.annotations import read_annotated_image

    annotations = _annotated(tmp_path, size=(40, 30), annotated=(80, 60))
    with pytest.raises(errors.UserError, match=r"p.jpg: annotated as 80x60 pixels but the image is 40x30"):
        read_annotated_image(tmp_path / "images" / "p.jpg", 80, 60)
    dataset = CocoPoseDataset(tmp_path / "images", annotations, DataConfig(crop_size=64), train=False)
    with pytest.raises(errors.UserError, match="annotated as 80x60"):
        dataset.sample(0, None)  # __getitem__ logs it and replaces the sample, as for a broken image


@pytest.mark.requires("pillow")
def test_annotated_on_the_stored_pixels_of_a_rotated_photo(tmp_path, caplog):
    """A photo stored 40x30 with an EXIF 'rotate 90' tag, annotated as stored (40x30)."""
    import numpy as np
    from PIL import Image

    from pafpose.io.annotations import read_annotated_image

    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(np.full((30, 40, 3), 90, np.uint8)).save(path, exif=exif.tobytes())
    assert read_annotated_image(path, 30, 40).shape == (40, 30, 3)  # as displayed
    assert read_annotated_image(path, 40, 30).shape == (30, 40, 3)  # as stored
    assert "stored size" in caplog.text


# -- small ones ----------------------------------------------------------------------------------


def test_non_finite_config_numbers_are_one_line_errors(tmp_path):
    code, _, err = run("train", "--config", TINY, "--set", "optim.lr=.nan", "--out", tmp_path / "r")
    assert code == errors.EXIT_USAGE and "optim.lr: expected a finite number, got nan" in err
    assert len(err.strip().splitlines()) == 1


def test_bare_pafpose_lists_commands_and_version(capsys):
    import pafpose

    assert main([]) == errors.EXIT_USAGE
    listing = capsys.readouterr().err
    assert "infer" in listing and "train" in listing and "exit status" in listing
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"pafpose {pafpose.__version__}"
    assert pafpose.__version__[0].isdigit()


def test_a_closed_pipe_is_a_quiet_exit(tmp_path):
    # `true` has exited long before the interpreter starts writing: every write meets a closed pipe.
    proc = subprocess.run(f"{sys.executable} -m pafpose.cli model-info --size 64 | true; "
                          "echo ${PIPESTATUS[0]} >&2", shell=True, executable="/bin/bash", cwd=ROOT,
                          env=child_env(), capture_output=True, text=True,
                          timeout=120)
    # The status is the last line; a library's own start-up notice (a CUDA build's) may precede it.
    *before, status = proc.stderr.strip().splitlines()
    assert status == str(errors.EXIT_BROKEN_PIPE), proc.stderr
    assert not [line for line in before if "Traceback" in line or "pipe" in line.lower()], proc.stderr


def test_checkpoint_digest_catches_flipped_bytes(tmp_path):
    import struct
    import zipfile

    import torch

    from pafpose.io.checkpoint import DIGEST_KEY, load_checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path / "c.pt", {"model": {"w": torch.arange(64.0)}, "model_config": {}})
    assert DIGEST_KEY in torch.load(path, weights_only=True)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.arange(64.0))
    raw = bytearray(path.read_bytes())
    entry = next(i for i in zipfile.ZipFile(path).infolist() if i.filename.endswith("/data/0"))
    name, extra = struct.unpack("<HH", raw[entry.header_offset + 26:entry.header_offset + 30])
    raw[entry.header_offset + 30 + name + extra + 9] ^= 0x20  # one bit of one weight
    (tmp_path / "flipped.pt").write_bytes(raw)
    with pytest.raises(errors.UserError, match="flipped.pt: corrupt"):
        load_checkpoint(tmp_path / "flipped.pt")
    torch.save({"model": {"w": torch.ones(2)}, "model_config": {}}, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt")["model"]["w"].tolist() == [1, 1]  # no digest: loads


@pytest.mark.parametrize("name", ["mobilenet-thin-coco", "synthetic-small"])
def test_bundled_weights_carry_a_matching_digest(name):
    import torch

    from pafpose.io.checkpoint import DIGEST_KEY, WEIGHTS_DIR, load_checkpoint, payload_digest

    stored = torch.load(WEIGHTS_DIR / f"{name}.pt", map_location="cpu", weights_only=True)
    assert stored[DIGEST_KEY] == payload_digest(stored)
    load_checkpoint(WEIGHTS_DIR / f"{name}.pt")


def _sigterm_after_frames(monkeypatch, frames: int) -> None:
    """SIGTERM arrives, as from ``timeout``, once ``frames`` frames were written."""
    from pafpose.inference.writer import Frame, ResultWriter

    write, written = ResultWriter.write, []

    def write_then_signal(self, event):
        picture = write(self, event)
        if isinstance(event, Frame):
            written.append(event)
            if len(written) == frames:
                os.kill(os.getpid(), signal.SIGTERM)
        return picture

    monkeypatch.setattr(ResultWriter, "write", write_then_signal)


def test_sigterm_during_infer_keeps_finished_frames(tmp_path, monkeypatch, weights):
    """The CLI takes SIGTERM as Ctrl-C (pafpose.signals): infer's cleanup runs, exit 143."""
    import numpy as np

    from pafpose.io.media import VideoWriter

    clip = tmp_path / "clip.avi"
    with VideoWriter(clip, 10.0, (64, 48)) as writer:
        for i in range(6):
            writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    _sigterm_after_frames(monkeypatch, 2)
    code, _, err = run("infer", clip, "--weights", weights, "--out", tmp_path / "out", "--render",
                       "--batch-size", "2", "--quiet")
    assert code == errors.EXIT_TERMINATED and err.strip().endswith("terminated"), err
    left = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert not [n for n in left if "clip_rendered" in n or n.endswith(".tmp")], left
    assert (tmp_path / "out" / "clip" / "clip_000000000001_keypoints.json").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_version_of_a_source_tree_that_was_never_installed(monkeypatch):
    import importlib.metadata
    import re

    import pafpose

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    expected = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)[1]
    assert pafpose.__version__ == expected


def test_eval_out_under_a_file_fails_before_any_image(tmp_path, monkeypatch, weights):
    from pafpose.inference.predict import Predictor

    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(Predictor, "predict", lambda *a: pytest.fail("ran an image first"))
    code, _, err = run("eval", "--weights", weights, "--out", blocker / "results.json")
    assert code == errors.EXIT_OS_ERROR and err.strip() == f"pafpose eval: {blocker}: Not a directory"


def test_an_unreadable_image_is_one_failed_input(tmp_path, monkeypatch):
    import numpy as np

    from pafpose.io.images import read_image

    photo = _jpeg(tmp_path / "p.jpg")

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(photo))

    monkeypatch.setattr(np, "fromfile", refused)
    with pytest.raises(errors.UserError, match=r"p.jpg: cannot read \(Permission denied\)"):
        read_image(photo)


def test_sigterm_during_a_folder_keeps_every_finished_coco_result(tmp_path, monkeypatch, weights):
    """The issue's case: `timeout` on `infer FOLDER --format coco` lost every finished image."""
    import json

    import cv2
    import numpy as np

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), np.full((48, 64, 3), 30 * i, np.uint8))
    _sigterm_after_frames(monkeypatch, 4)  # the fourth is stopped before its end
    out = tmp_path / "out"
    code, _, err = run("infer", folder, "--weights", weights, "--out", out, "--format", "coco", "--quiet")
    assert code == errors.EXIT_TERMINATED, err
    images = json.loads((out / "images.json").read_text())
    results = json.loads((out / "results.json").read_text())
    assert [im["file_name"] for im in images][:3] == ["000", "001", "002"] and len(images) < 8
    assert {r["image_id"] for r in results} <= {im["id"] for im in images}
    manifest = json.loads((out / "manifest.json").read_text())["inputs"]
    assert [e["name"] for e in manifest if "error" not in e][:3] == ["000", "001", "002"]
    assert not [p.name for p in out.iterdir() if p.name.endswith(".partial")]  # no temporaries left

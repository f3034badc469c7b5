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
from cli_helpers import run
from train_helpers import PoseSamples

from pafpose import errors
from pafpose.cli import main
from pafpose.io.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
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
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert other.stdout.readline().strip() == "locked"
        status, _, err = _train(out)
        assert status == errors.EXIT_USAGE
        assert f"pafpose train (pid {other.pid}) is writing there" in err and len(err.splitlines()) == 1
        assert not (out / "last.pt").exists() and not (out / "metrics.jsonl").exists()
    finally:
        other.communicate("")


def _full_disk(monkeypatch):
    """Every file pafpose opens for writing behaves as on a full disk (it is /dev/full)."""
    real_open, real_fdopen = builtins.open, os.fdopen

    def full_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and not str(file).startswith("/dev/"):
            return real_open("/dev/full", "wb" if "b" in mode else "w")
        return real_open(file, mode, *args, **kwargs)

    def full_fdopen(fd, mode="r", *args, **kwargs):
        os.close(fd)
        return real_fdopen(os.open("/dev/full", os.O_WRONLY), mode, *args, **kwargs)

    monkeypatch.setattr("pafpose.io.checkpoint.open", full_open, raising=False)
    monkeypatch.setattr(os, "fdopen", full_fdopen)


def test_train_on_a_full_disk_is_one_line_with_its_own_status(tmp_path, monkeypatch):
    monkeypatch.setattr("pafpose.training.loop.build_train_dataset", lambda cfg: PoseSamples(count=8))
    _full_disk(monkeypatch)
    code, _, err = _train(tmp_path / "run")
    assert code == errors.EXIT_OS_ERROR, err
    assert err.strip() == f"pafpose train: {tmp_path / 'run' / 'last.pt'}: No space left on device"
    assert not list((tmp_path / "run").glob("*.pt")) and not list((tmp_path / "run").glob(".*.tmp"))


def test_synth_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    _full_disk(monkeypatch)
    code, _, err = run("synth", "--out", tmp_path / "s", "--num-images", "2")
    assert code == errors.EXIT_OS_ERROR
    assert err.strip().splitlines()[-1] == (f"pafpose synth: {tmp_path / 's' / 'images' / '000000.jpg'}: "
                                            "No space left on device")
    assert not [p for p in (tmp_path / "s").rglob("*") if p.is_file()]


@pytest.mark.parametrize("command", ["train", "synth", "export"])
def test_out_under_a_file_is_one_line(tmp_path, monkeypatch, command):
    monkeypatch.setattr("pafpose.training.loop.build_train_dataset", lambda cfg: PoseSamples(count=8))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    argv = {"train": ["train", "--config", TINY, "--out", blocker / "run", "--no-progress"],
            "synth": ["synth", "--out", blocker / "s", "--num-images", "1"],
            "export": ["export", "--weights", "synthetic-small", "--onnx", blocker / "m.onnx"]}[command]
    code, _, err = run(*argv)
    assert code == errors.EXIT_OS_ERROR, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"pafpose {command}: {blocker}") and "Not a directory" in line, err


def _read_only(monkeypatch, folder: Path) -> None:
    """``folder`` refuses new files: chmod where that binds, else (as root) a patched mkstemp."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return
    import tempfile

    real = tempfile.mkstemp

    def refusing(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve().is_relative_to(folder.resolve()):
            raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, "tmp"))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refusing)


def test_synth_into_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    _read_only(monkeypatch, tmp_path / "ro")
    try:
        code, _, err = run("synth", "--out", tmp_path / "ro", "--num-images", "1")
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert code == errors.EXIT_OS_ERROR
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"pafpose synth: {tmp_path / 'ro'}") and "Permission denied" in line, err

"""What ``discover_inputs`` finds in folders, and the one line it says about what it cannot read."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from pafpose.io.discovery import discover_inputs


def _photo(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((16, 16, 3), 128, np.uint8))
    return path


def _deny_listing(monkeypatch, folder):
    """``folder`` cannot be listed: chmod 000, and as root (whom chmod does not stop) a scandir
    that refuses it the way the kernel would."""
    folder.chmod(0)
    if os.geteuid() == 0:
        real = os.scandir

        def scandir(path="."):
            if os.fspath(path) == os.fspath(folder):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real(path)
        monkeypatch.setattr(os, "scandir", scandir)


def test_an_unreadable_sub_folder_is_one_line_and_the_rest_is_read(tmp_path, monkeypatch):
    _photo(tmp_path / "photos" / "a.jpg")
    _photo(tmp_path / "photos" / "private" / "b.jpg")
    private = tmp_path / "photos" / "private"
    _deny_listing(monkeypatch, private)
    try:
        found, errors = discover_inputs([tmp_path / "photos"])
    finally:
        private.chmod(0o755)
    assert [item.name for item in found] == ["a"]
    assert errors == [f"{private}: cannot read folder (Permission denied)"]


def test_an_unreadable_folder_given_directly_is_not_called_empty(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    _photo(folder / "a.jpg")
    _deny_listing(monkeypatch, folder)
    try:
        found, errors = discover_inputs([folder])
    finally:
        folder.chmod(0o755)
    assert found == [] and errors == [f"{folder}: cannot read folder (Permission denied)"]


def test_a_fifo_is_not_called_a_broken_link(tmp_path):
    folder = tmp_path / "photos"
    _photo(folder / "a.jpg")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    found, errors = discover_inputs([folder, folder / "pipe.jpg"])
    assert [item.name for item in found] == ["a"]
    assert sorted(errors) == sorted([f"{folder / 'gone.jpg'}: broken link (its target is missing)",
                                     f"{folder / 'pipe.jpg'}: not a regular file (a FIFO (named pipe))",
                                     f"{folder / 'pipe.jpg'}: not a regular file (a FIFO (named pipe))"])


def test_an_empty_input_is_one_line_not_the_current_folder(tmp_path, monkeypatch):
    _photo(tmp_path / "here.jpg")
    monkeypatch.chdir(tmp_path)
    found, errors = discover_inputs([""])
    assert found == [] and errors == ["'': empty input path (give a file, folder, camera index or URL)"]


def test_an_image_named_like_a_video_frame_gets_its_own_outputs(tmp_path):
    grey = tmp_path / "in"
    _photo(grey / "a" / "a_000000000000.jpg")
    (grey / "a.mp4").write_bytes(b"")  # discovery goes by name; the video is not read here
    found, _ = discover_inputs([grey])
    names = {item.kind: item.name for item in found}
    assert names == {"video": "a", "image": "a/a_000000000000.jpg"}


@pytest.mark.parametrize("marker", ["manifest", "lock"])
def test_an_earlier_output_folder_inside_the_input_is_not_read_back(tmp_path, marker):
    photos = tmp_path / "photos"
    _photo(photos / "a.jpg")
    _photo(photos / "out1" / "a_rendered.jpg")
    _photo(photos / "out1" / "sub" / "b_rendered.jpg")
    _photo(photos / "out1" / "mine.jpg")  # a user's own photo put there is still a photo
    if marker == "manifest":
        (photos / "out1" / "manifest.json").write_text('{"inputs":[]}')
    else:
        (photos / "out1" / ".pafpose.lock").write_text("")
    _photo(photos / "other" / "c_rendered.jpg")  # no output folder: an ordinary photo
    found, errors = discover_inputs([photos], exclude=tmp_path / "out2")
    assert sorted(item.name for item in found) == ["a", "other/c_rendered", "out1/mine"] and not errors

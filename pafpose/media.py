"""Inputs and outputs of ``pafpose infer``: finding images and videos, reading and writing frames."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .errors import UserError
from .images import IMAGE_SUFFIXES

__all__ = ["VIDEO_SUFFIXES", "MediaInput", "discover_inputs", "read_video", "VideoWriter"]

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


@dataclass(frozen=True)
class MediaInput:
    """One thing to run on: an image or a video file, and the name its outputs are keyed by."""

    path: Path
    kind: str  # "image" | "video"
    name: str  # relative path without suffix, unique within a run (used for output names)


def discover_inputs(paths: list[str | Path]) -> tuple[list[MediaInput], list[str]]:
    """Expand files and folders (recursively) into images and videos.

    Returns the inputs found and one error line per path that does not exist, is an unsupported
    file, or is a folder without images or videos; the caller decides whether to go on.
    """
    found: list[MediaInput] = []
    errors: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p))
            if not files:
                errors.append(f"{path}: folder contains no images or videos")
            found += [MediaInput(p, _kind(p), str(p.relative_to(path).with_suffix(""))) for p in files]
        elif path.is_file():
            kind = _kind(path)
            if kind is None:
                errors.append(f"{path}: not an image or video (unknown suffix {path.suffix!r})")
            else:
                found.append(MediaInput(path, kind, path.stem))
        else:
            errors.append(f"{path}: no such file or folder")
    return _unique_names(found), errors


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def _unique_names(inputs: list[MediaInput]) -> list[MediaInput]:
    """Disambiguate equal output names (a.jpg and a.png, or two folders' x.jpg) with a counter."""
    seen: dict[str, int] = {}
    out = []
    for item in inputs:
        count = seen.get(item.name, 0)
        seen[item.name] = count + 1
        out.append(item if count == 0 else MediaInput(item.path, item.kind, f"{item.name}-{count}"))
    return out


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    frame_count: int  # as the container claims it; 0 when unknown
    width: int
    height: int


def open_video(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video, raising UserError naming it when it cannot be decoded or has no frames."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise UserError(f"{path}: cannot open video (corrupt or unsupported codec)")
    fps = capture.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(fps=fps if fps and np.isfinite(fps) and fps > 0 else 30.0,
                     frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
                     width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return capture, info


def read_video(path: str | Path) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) BGR uint8 frames.

    Raises UserError naming the file when no frame at all can be read (empty or broken video),
    or when the stream ends well before the frame count in its header (truncated file) — after
    the frames that could be read were yielded, so the caller keeps that work.
    """
    capture, info = open_video(path)
    read = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            read += 1
            yield frame
    finally:
        capture.release()
    if read == 0:
        raise UserError(f"{path}: video has no readable frames (empty or corrupt)")
    # Containers round their frame counts a little; a real truncation loses far more.
    if info.frame_count and read < info.frame_count - max(2, info.frame_count // 100):
        raise UserError(f"{path}: video truncated: read {read} of {info.frame_count} frames")


class VideoWriter:
    """Write BGR frames to a video atomically: frames go to a temporary file renamed on close."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix,
                                   dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() in {".mp4", ".m4v", ".mov"}
                                          else "MJPG"))
        self._writer = cv2.VideoWriter(str(self._tmp), fourcc, fps, size)
        if not self._writer.isOpened():
            self._tmp.unlink(missing_ok=True)
            raise UserError(f"{self.path}: cannot write video (no encoder for {self.path.suffix!r})")
        self.size = size

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)

    def close(self, keep: bool = True) -> None:
        """Finish the file; ``keep=False`` discards it (e.g. when nothing was written)."""
        self._writer.release()
        if keep:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(keep=True)

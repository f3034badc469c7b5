"""Reading and writing the frames of ``pafpose infer``: videos, cameras and streams in, rendered videos out.

Finding the inputs is :mod:`pafpose.io.discovery` (re-exported here).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import UserError
from .discovery import RENDERED_SUFFIX, VIDEO_SUFFIXES, MediaInput, discover_inputs, is_output_folder, is_stream

__all__ = ["VIDEO_SUFFIXES", "RENDERED_SUFFIX", "MediaInput", "discover_inputs", "is_output_folder", "VideoReader",
           "VideoWriter", "open_render_writer", "is_stream", "check_frame_range", "quiet_stderr"]


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    frame_count: int  # as the container claims it; 0 when unknown
    width: int
    height: int


def open_video(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video file, camera index or stream URL; UserError naming it when it cannot be read."""
    if isinstance(path, str) and is_stream(path):
        capture = cv2.VideoCapture(int(path) if path.isdigit() else path)
        if not capture.isOpened():
            what = "camera" if path.isdigit() else "stream"
            raise UserError(f"{path}: cannot open {what} (not connected, unreachable or unsupported)")
    else:
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


def check_frame_range(start: int, end: int | None, step: int) -> None:
    """UserError unless frames ``start, start + step, ...`` below ``end`` are a valid choice."""
    if start < 0 or step < 1 or (end is not None and end <= start):
        raise UserError(f"frame range: need 0 <= start < end and step >= 1, got start {start}, "
                        f"end {end}, step {step}")


class VideoReader:
    """Frames number start, start + step, ... below ``end`` of a video file, camera or stream.

    Opening happens here, so a file that cannot be read fails before any output is made;
    ``info`` has its frame rate and size. Iterating yields (H, W, 3) BGR uint8 frames, counted
    from 0 in decoding order: skipped ones are only grabbed, not converted, and counted exactly
    (seeking is approximate in many codecs). Iteration raises UserError naming the file when no
    frame at all can be read (empty or broken video), or when the stream ends well before the
    frame count in its header (truncated file) — after the frames that could be read were
    yielded, so the caller keeps that work.
    """

    def __init__(self, path: str | Path, start: int = 0, end: int | None = None, step: int = 1):
        check_frame_range(start, end, step)
        self.path, self.start, self.end, self.step = path, start, end, step
        self.capture, self.info = open_video(path)

    def __iter__(self) -> Iterator[np.ndarray]:
        index = read = 0
        try:
            while self.end is None or index < self.end:
                wanted = index >= self.start and (index - self.start) % self.step == 0
                ok = self.capture.grab()
                frame = self.capture.retrieve()[1] if ok and wanted else None
                if not ok or (wanted and frame is None):
                    break
                index += 1
                if wanted:
                    read += 1
                    yield frame
        finally:
            self.capture.release()
        if index == 0:
            raise UserError(f"{self.path}: video has no readable frames (empty or corrupt)")
        # Containers round their frame counts a little; a real truncation loses far more.
        total = self.info.frame_count
        if total and index < min(total, self.end or total) - max(2, total // 100):
            raise UserError(f"{self.path}: video truncated: read {index} of {total} frames")
        if read == 0:
            raise UserError(f"{self.path}: no frames in the requested range (the video has {index})")


class VideoWriter:
    """Write BGR frames to a video atomically: frames go to a temporary file renamed on close.

    ``fourcc`` defaults to mp4v for .mp4/.m4v/.mov and MJPG otherwise; ``api`` picks an OpenCV
    backend (e.g. ``cv2.CAP_OPENCV_MJPEG``). Leaving a ``with`` block through an exception
    (Ctrl-C included) discards the file: a partial video must not sit under the final name.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], fourcc: str | None = None,
                 api: int = cv2.CAP_ANY):
        from .outputs import make_temp_file

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = make_temp_file(self.path, suffix=self.path.suffix)
        os.close(fd)
        self._tmp = Path(tmp)
        fourcc = fourcc or ("mp4v" if self.path.suffix.lower() in {".mp4", ".m4v", ".mov"} else "MJPG")
        self.fourcc = fourcc
        self._writer = cv2.VideoWriter(str(self._tmp), api, cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not self._writer.isOpened():
            self._tmp.unlink(missing_ok=True)
            raise UserError(f"{self.path}: cannot write video (no encoder for {self.path.suffix!r})")
        self.size = size
        self.frames = 0
        self._closed = False

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)
        self.frames += 1

    def close(self, keep: bool = True) -> None:
        """Finish the file; ``keep=False`` discards it (e.g. when nothing was written).

        A kept file is read back first: OpenCV's writers report a failed write (a full disk, a
        file-size limit) only as warnings on stderr, so a video that does not open, or holds far
        fewer frames than were written, is discarded and raises UserError naming it.
        """
        if self._closed:
            return
        self._closed = True
        self._writer.release()
        if not keep:
            self._tmp.unlink(missing_ok=True)
            return
        readable = self._readable_frames()
        if readable is not None and readable < self.frames - max(2, self.frames // 100):
            self._tmp.unlink(missing_ok=True)
            found = "does not open" if readable < 0 else f"holds {readable} of the {self.frames} frames written"
            raise UserError(f"{self.path}: writing the video failed: it {found} (disk full or a "
                            "file-size limit?)")
        os.replace(self._tmp, self.path)

    def _readable_frames(self) -> int | None:
        """The frame count the finished temporary file claims (-1 when it does not open; None
        when nothing was written, or the container does not say)."""
        if not self.frames:
            return None
        with quiet_stderr():  # FFmpeg's own line about a broken file ("moov atom not found")
            capture = cv2.VideoCapture(str(self._tmp))
        try:
            if not capture.isOpened():
                return -1
            count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
            return int(count) if count == count and count >= 0 else None
        finally:
            capture.release()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(keep=exc_type is None)


@contextlib.contextmanager
def quiet_stderr(fds: tuple[int, ...] = (2,)):
    """Silence C-level stderr (or the file descriptors ``fds``): FFmpeg prints several lines when
    an encoder cannot be opened, and torch's ONNX exporter the whole graph (to stdout) when an
    operator cannot be exported."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    try:
        with open(os.devnull, "wb") as null:
            for fd in fds:
                os.dup2(null.fileno(), fd)
        yield
    finally:
        for fd, copy in zip(fds, saved):
            os.dup2(copy, fd)
            os.close(copy)


@functools.cache
def h264_available() -> bool:
    """Whether this OpenCV build can write H.264 ('avc1') into .mp4 (pip wheels usually cannot)."""
    with tempfile.TemporaryDirectory() as folder, quiet_stderr():
        writer = cv2.VideoWriter(str(Path(folder) / "probe.mp4"), cv2.VideoWriter_fourcc(*"avc1"),
                                 10.0, (64, 64))
        ok = writer.isOpened()
        writer.release()
    return ok


def open_render_writer(stem: Path, fps: float, size: tuple[int, int]) -> tuple[VideoWriter, str | None]:
    """A writer for a rendered video ``<stem>.mp4`` (or ``.avi``), and a note on the choice, if any.

    H.264 where the OpenCV build has an encoder, else MPEG-4 Part 2 (mp4v), which every player
    reads but at larger files. Both need even frame sizes (OpenCV's FFmpeg writer cuts odd ones),
    so odd-sized frames go to Motion-JPEG .avi through OpenCV's own writer, which keeps them.
    """
    width, height = size
    if width % 2 or height % 2:
        return (VideoWriter(stem.with_name(stem.name + ".avi"), fps, size, "MJPG", cv2.CAP_OPENCV_MJPEG),
                f"odd frame size {width}x{height}: written as Motion-JPEG .avi to keep every pixel")
    if h264_available():
        return VideoWriter(stem.with_name(stem.name + ".mp4"), fps, size, "avc1"), None
    return (VideoWriter(stem.with_name(stem.name + ".mp4"), fps, size, "mp4v"),
            "this OpenCV build has no H.264 encoder: rendered videos are MPEG-4 Part 2 (mp4v)")

"""Inputs and outputs of ``pafpose infer``: finding images, videos and streams, reading and writing frames."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import UserError
from .images import IMAGE_SUFFIXES

__all__ = ["VIDEO_SUFFIXES", "RENDERED_SUFFIX", "MediaInput", "discover_inputs", "VideoReader", "VideoWriter",
           "open_render_writer", "is_stream", "check_frame_range", "quiet_stderr"]

#: What ``infer --render`` appends to an input's name (``photo_rendered.jpg``, ``clip_rendered.mp4``).
RENDERED_SUFFIX = "_rendered"

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})

# rtsp://, http(s)://, rtmp://, udp://, ...: handed to OpenCV as they are (a Path would fold "//").
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class MediaInput:
    """One thing to run on, and the name its outputs are keyed by (unique within a run).

    ``kind`` is "image", "video" (a file) or "stream" (a camera index such as "0", or a URL);
    ``path`` is a Path for files and the string the user gave for streams.
    """

    path: Path | str
    kind: str  # "image" | "video" | "stream"
    name: str  # relative path without suffix (used for output names)


def is_stream(text: str) -> bool:
    """A camera index ("0", "1", ...) or a URL rather than a file (an existing file wins)."""
    return bool(_URL.match(text)) or (text.isdigit() and not Path(text).exists())


def _stream_name(text: str) -> str:
    if text.isdigit():
        return f"camera{text}"
    rest = _URL.sub("", text).split("?")[0].rstrip("/")
    return "stream-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", rest.rsplit("/", 1)[-1]) or "url")


def discover_inputs(paths: list[str | Path], exclude: Path | None = None
                    ) -> tuple[list[MediaInput], list[str]]:
    """Expand files and folders (recursively) into images and videos; camera indices and URLs
    become streams.

    Folders are searched through symlinked folders too, each real folder once (a link to a
    folder above it would loop forever). Hidden files and folders (``._IMG_1.jpg``, which macOS
    writes beside every file on a foreign disk, ``.thumbnails/``, the temporaries of a killed
    run) are not inputs. Outputs in ``exclude`` (the output folder) are not read back as inputs:
    all of it when it lies inside an input folder, only the renderings when it is the input
    folder itself or above it (``infer photos --out photos``). Returns the inputs found and one
    error line per path that does not exist, is an unsupported file, or is a folder without
    images or videos; the caller decides whether to go on.
    """
    found: list[MediaInput] = []
    errors: list[str] = []
    for raw in paths:
        if not str(raw).strip():  # Path("") is the current folder: never what an empty argument meant
            errors.append(f"{str(raw)!r}: empty input path (give a file, folder, camera index or URL)")
            continue
        if is_stream(str(raw)):
            found.append(MediaInput(str(raw), "stream", _stream_name(str(raw))))
            continue
        path = Path(raw)
        if path.is_dir():
            is_output = _output_test(path, exclude)
            files, unreadable = [], []
            for file in _folder_files(path, unreadable):
                if not file.is_file():
                    errors.append(f"{file}: {_not_a_file(file)}")
                elif not is_output(file):
                    files.append(file)
            errors += unreadable
            if not files and not (unreadable and unreadable[0].startswith(f"{path}: ")):
                errors.append(f"{path}: folder contains no images or videos")
            found += [MediaInput(p, _kind(p), str(p.relative_to(path).with_suffix(""))) for p in files]
        elif path.is_file():
            kind = _kind(path)
            if kind is None:
                errors.append(f"{path}: not an image or video (unknown suffix {path.suffix!r})")
            else:
                found.append(MediaInput(path, kind, path.stem))
        elif path.exists() or path.is_symlink():
            errors.append(f"{path}: {_not_a_file(path)}")
        else:
            errors.append(f"{path}: no such file or folder")
    return _unique_names(found), errors


def _not_a_file(path: Path) -> str:
    """Why ``path``, which exists as a name, is no file to read: a broken link or a special file."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "broken link (its target is missing)"
    except OSError as err:
        return f"cannot read ({err.strerror})"
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    what = next((name for test, name in kinds if test(mode)), "a special file")
    return f"not a regular file ({what})"


def _folder_files(folder: Path, unreadable: list[str] | None = None) -> list[Path]:
    """The images and videos under ``folder`` (sorted, hidden names left out), through symlinked
    folders, each real folder once; broken links and special files (FIFOs, ...) with an image or
    video suffix are included for the caller to report. A folder that cannot be listed adds one
    line to ``unreadable`` (``photos/private: cannot read folder (Permission denied)``)."""
    files, seen = [], set()

    def note(err: OSError) -> None:
        if unreadable is not None:
            unreadable.append(f"{err.filename or folder}: cannot read folder ({err.strerror or err})")

    outputs: set[str] = set()  # the walked folders that are (or lie in) an earlier run's --out
    for root, folders, names in os.walk(folder, followlinks=True, onerror=note):
        real = os.path.realpath(root)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        if os.path.dirname(root) in outputs or is_output_folder(Path(root), names):
            outputs.add(root)
        folders[:] = [name for name in folders if not name.startswith(".")]
        files += [Path(root, name) for name in names if not name.startswith(".") and _kind(Path(name))
                  and not (root in outputs and Path(name).stem.endswith(RENDERED_SUFFIX))]
    return sorted(files)


def is_output_folder(folder: Path, names: list[str] | None = None) -> bool:
    """Whether ``folder`` is where ``pafpose infer`` (or ``train``) wrote: it holds their lock file
    or ``infer``'s ``manifest.json``. ``names``: the folder's entries, when already listed."""
    names = set(names) if names is not None else None
    has = (lambda name: name in names) if names is not None else (lambda name: (folder / name).exists())
    if has(".pafpose.lock"):
        return True
    if not has("manifest.json"):
        return False
    try:
        with open(folder / "manifest.json", "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return head.lstrip().startswith(b'{"inputs"')


def _output_test(folder: Path, out: Path | None):
    """Whether a file found in input ``folder`` is one of the outputs written to ``out``."""
    if out is None:
        return lambda file: False
    out, real_folder = out.resolve(), folder.resolve()
    if out != real_folder and out.is_relative_to(real_folder):
        return lambda file: file.resolve().is_relative_to(out)
    # The input itself is in the output folder: only what infer wrote there is output.
    return lambda file: file.resolve().is_relative_to(out) and file.stem.endswith(RENDERED_SUFFIX)


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def _unique_names(inputs: list[MediaInput]) -> list[MediaInput]:
    """Output names that no two inputs share and that no input's own name can collide with.

    The first of several inputs with one name keeps it; the others take their suffix along
    (``a.jpg``, ``a.png`` -> ``a``, ``a.png``), then a counter if even that is taken. Every
    name any input keeps is reserved first, so a real ``a-1.jpg`` is never renamed over. An
    image named like a video's frame (``a/a_000000000000.jpg`` beside ``a.mp4``, whose frame 0
    writes ``a/a_000000000000_keypoints.json``) is renamed the same way, across kinds.
    """
    counts: dict[str, int] = {}
    for item in inputs:
        counts[item.name] = counts.get(item.name, 0) + 1
    used = set(counts)
    kept: set[str] = set()
    named = []
    for item in inputs:
        if item.name not in kept:
            kept.add(item.name)
            named.append(item)
        else:
            named.append(_renamed(item, used))
    videos = {item.name for item in named if item.kind != "image"}
    return [_renamed(item, used) if item.kind == "image" and _is_frame_name(item.name, videos) else item
            for item in named]


def _renamed(item: MediaInput, used: set[str]) -> MediaInput:
    """``item`` under its name with its suffix (then a counter) appended, a name not yet used."""
    suffix = Path(str(item.path)).suffix.lstrip(".") if item.kind != "stream" else ""
    base = f"{item.name}.{suffix}" if suffix else item.name
    name, n = base, 1
    while name in used:
        name, n = f"{base}-{n}", n + 1
    used.add(name)
    return MediaInput(item.path, item.kind, name)


_FRAME_NAME = re.compile(r"^(.+)/([^/]+)_\d{12}$")


def _is_frame_name(name: str, videos: set[str]) -> bool:
    """Whether ``name`` is what a frame of one of ``videos`` is written as (``<v>/<v>_<frame:012d>``)."""
    match = _FRAME_NAME.match(name)
    return bool(match) and match.group(1) in videos and Path(match.group(1)).name == match.group(2)


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

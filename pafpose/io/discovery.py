"""Finding what ``pafpose infer`` runs on: images and videos in files and folders, cameras, streams.

Folders are searched recursively (through symlinked folders, each real folder once); hidden names,
the outputs of this run and the renderings of earlier runs found inside are left out; every path
that cannot be used (missing, unsupported, unreadable, a broken link or a FIFO, empty) is one
error line. Each input gets an output name no other input's outputs can collide with.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .images import IMAGE_SUFFIXES

__all__ = ["VIDEO_SUFFIXES", "RENDERED_SUFFIX", "MediaInput", "discover_inputs", "is_stream", "is_output_folder"]

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

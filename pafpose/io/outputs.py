"""Writing results atomically, and OpenPose's per-image/frame JSON layout.

COCO keypoint results come from :func:`pafpose.inference.evaluate.people_to_coco_results`.

Long jobs write one file per image or frame as they go; each goes to a temporary file in the
destination folder first and is moved into place with ``os.replace``, so a crash or Ctrl-C never
leaves a half-written file behind and finished files are never lost.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..codec.skeleton import COCO18, convert_keypoints
from ..errors import UserError

__all__ = ["ensure_folder", "atomic_write_bytes", "write_json", "write_image", "openpose_json", "make_temp_file",
           "lock_folder", "LOCK_NAME"]

#: The lock file ``pafpose infer`` and ``pafpose train`` hold in their output folder while they
#: write there (one name, so neither can write into a folder the other is using).
LOCK_NAME = ".pafpose.lock"

#: The "version" field of OpenPose's --write_json output this layout follows.
OPENPOSE_VERSION = 1.3


def ensure_folder(folder: Path) -> Path:
    """``folder``, created with its parents; a file in the way is NotADirectoryError naming it
    (``mkdir`` says "File exists", which reads as if the folder were there)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder)) from None
    return folder


def make_temp_file(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """``mkstemp`` beside ``path``, but with the permissions ``open`` would give the final file.

    mkstemp creates 0600 files; renamed into place they would stay unreadable to the group and
    others whatever the umask says, unlike every other file the user creates. The temporary is
    hidden (a leading dot), so a folder search never takes it for an input.
    """
    # The name is cut so that any name that fits the file system (255 bytes) has a temporary that does.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=suffix, dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, tmp


@contextlib.contextmanager
def lock_folder(folder: Path, what: str = "pafpose infer", name: str = LOCK_NAME) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` for a writer, or raise UserError if another holds it.

    Two runs writing the same results.json would each overwrite the other's images. The lock is
    an flock on a file inside the folder: the kernel releases it when its process dies, so a
    killed run never leaves the folder locked.
    """
    import fcntl

    with open(ensure_folder(folder) / name, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise UserError(f"{folder}: {holder} is writing there; wait for it to finish or "
                            "choose another --out") from None
        f.seek(0)
        f.truncate()
        f.write(f"{what} (pid {os.getpid()})")
        f.flush()
        try:
            yield
        finally:
            f.truncate(0)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    A failed write (full disk, read-only folder, a file where a folder should be) raises OSError
    naming ``path``, not the temporary, which is removed.
    """
    path = Path(path)
    try:
        ensure_folder(path.parent)
        fd, tmp = make_temp_file(path)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise OSError(err.errno, err.strerror, str(path)) from None
        raise


def write_json(path: str | Path, obj) -> None:
    """Atomically write ``obj`` as compact JSON."""
    atomic_write_bytes(path, json.dumps(obj, separators=(",", ":")).encode())


def write_image(path: str | Path, image: np.ndarray, jpeg_quality: int = 92) -> None:
    """Atomically write a BGR uint8 image, encoded by the file suffix (.jpg, .png, ...)."""
    import cv2

    path = Path(path)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise UserError(f"{path}: could not encode the image")
    atomic_write_bytes(path, data.tobytes())


def _round(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in values]


def _coco18_or_missing(keypoints: np.ndarray) -> np.ndarray:
    """(18, 3) COCO-18 keypoints with missing ones (confidence 0) all zeros."""
    kp = convert_keypoints(keypoints, COCO18)
    return np.where(kp[:, 2:] > 0, kp, 0)


def openpose_json(people: Sequence) -> dict:
    """OpenPose ``--write_json`` layout for one image or frame.

    ``pose_keypoints_2d`` is x, y, confidence for the 18 COCO-18 keypoints (OpenPose's COCO
    model order) whatever the head: a COCO-17 head's people are written with the neck added
    between the shoulders (confidence the smaller of theirs; missing unless both are found),
    because every reader of this layout (OpenPose tools, ControlNet pose editors) indexes it as
    OpenPose's COCO model. A missing keypoint is 0, 0, 0, as OpenPose writes it. ``person_id``
    is ``[track_id]``: -1, as OpenPose writes it, unless a tracker set the person's id. The face
    and hand fields are present and empty so tools expecting OpenPose's keys find them.
    """
    return {
        "version": OPENPOSE_VERSION,
        "people": [{
            "person_id": [int(getattr(p, "track_id", -1))],
            "pose_keypoints_2d": _round(_coco18_or_missing(p.keypoints).reshape(-1)),
            "face_keypoints_2d": [],
            "hand_left_keypoints_2d": [],
            "hand_right_keypoints_2d": [],
            "pose_keypoints_3d": [],
            "face_keypoints_3d": [],
            "hand_left_keypoints_3d": [],
            "hand_right_keypoints_3d": [],
        } for p in people],
    }

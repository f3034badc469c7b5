"""Per-video files of tracked people: a tidy table (CSV or JSON lines) and PoseTrack-style JSON.

Both writers stream: :meth:`write` is called once per frame and memory stays bounded however
long the video (the table appends rows; the PoseTrack writer spools its two lists to temporary
files beside the destination and joins them at :meth:`close`, which moves the finished file
into place atomically, so an interrupted run never leaves a file that looks complete). Both are
context managers.

- **Table** (:class:`TrackTableWriter`): one row per frame x person: ``frame``, ``time``,
  ``id`` (the track id, -1 untracked), ``score``, then ``<keypoint>_x``, ``<keypoint>_y``,
  ``<keypoint>_c`` for each keypoint of the head's skeleton (COCO-18 names for the bundled
  network); a missing keypoint is x = y = c = 0. ``.csv`` (a header line, then rows) or
  ``.jsonl`` (one JSON object per row, the same keys), by the file suffix. pandas reads either
  (``pd.read_csv``, ``pd.read_json(lines=True)``); :func:`read_track_table` reads them without it.
- **PoseTrack** (:class:`PoseTrackWriter`): PoseTrack 2018's layout: ``images`` (one per frame:
  ``id`` = ``frame_id`` = frame index + 1, ``file_name``, ``vid_id``, ``time``), ``annotations`` (one per
  person: ``image_id``, ``track_id``, ``keypoints`` as 17 x (x, y, v) in COCO's keypoint order,
  ``scores`` (17 keypoint confidences), ``score``, ``category_id`` 1) and ``categories`` (COCO's
  person with its keypoint names). PoseTrack's own annotations name keypoints 1 and 2
  head_bottom and head_top where COCO has the eyes; the file names COCO's.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from ..codec.skeleton import COCO17, get_skeleton
from .outputs import make_temp_file

__all__ = ["TrackTableWriter", "read_track_table", "PoseTrackWriter", "read_posetrack"]

_TABLE_FORMATS = (".csv", ".jsonl")


def _table_columns(keypoint_names: Sequence[str]) -> list[str]:
    return ["frame", "time", "id", "score"] + [f"{n}_{c}" for n in keypoint_names for c in "xyc"]


def _row(frame_index: int, time: float, person) -> list:
    kp = np.asarray(person.keypoints, dtype=np.float64)
    kp = np.where(kp[:, 2:] > 0, kp, 0.0).round(3)
    return [int(frame_index), round(float(time), 6), int(getattr(person, "track_id", -1)),
            round(float(person.score), 4)] + kp.reshape(-1).tolist()


class TrackTableWriter:
    """Streams one row per frame x person to a ``.csv`` or ``.jsonl`` file (module docstring).

    Args:
        path: the file; its suffix chooses the format.
        skeleton: the keypoint layout of the people written ("coco18" for the bundled network,
            or the Predictor's ``codec.skeleton``); names the keypoint columns.
    """

    def __init__(self, path: str | Path, skeleton="coco18"):
        self.path = Path(path)
        self.format = self.path.suffix.lower()
        if self.format not in _TABLE_FORMATS:
            raise ValueError(f"{self.path}: a track table is .csv or .jsonl, not {self.path.suffix!r}")
        self.skeleton = get_skeleton(skeleton)
        self.columns = _table_columns(self.skeleton.keypoint_names)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", newline="")
        self._csv = csv.writer(self._file) if self.format == ".csv" else None
        if self._csv is not None:
            self._csv.writerow(self.columns)

    def write(self, frame_index: int, time: float, people: Sequence) -> None:
        """Append the rows of one frame's people (none for a frame without people)."""
        k = self.skeleton.num_keypoints
        for person in people:
            if np.shape(person.keypoints)[0] != k:
                raise ValueError(f"{self.path}: a person has {np.shape(person.keypoints)[0]} keypoints; "
                                 f"the table's skeleton {self.skeleton.name!r} has {k}")
            row = _row(frame_index, time, person)
            if self._csv is not None:
                self._csv.writerow(row)
            else:
                self._file.write(json.dumps(dict(zip(self.columns, row)), separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TrackTableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_track_table(path: str | Path) -> list[dict]:
    """The rows of a track table as dicts: ``frame`` and ``id`` int, every other column float."""
    path = Path(path)
    with open(path, newline="") as f:
        if path.suffix.lower() == ".jsonl":
            rows = [json.loads(line) for line in f if line.strip()]
        else:
            rows = list(csv.DictReader(f))
    return [{key: int(value) if key in ("frame", "id") else float(value) for key, value in row.items()}
            for row in rows]


class PoseTrackWriter:
    """Streams a video's tracked people into one PoseTrack-style JSON file (module docstring).

    Args:
        path: the ``.json`` file, written at :meth:`close`.
        video_id: PoseTrack's ``vid_id``.
        file_names: None, or a function frame index -> the frame's ``file_name`` (default
            ``"{index:06d}.jpg"``).
    """

    def __init__(self, path: str | Path, video_id: int = 1, file_names=None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.video_id = video_id
        self._file_name = file_names or (lambda index: f"{index:06d}.jpg")
        self._spools = []
        for suffix in (".images.tmp", ".annotations.tmp"):
            fd, name = make_temp_file(self.path, suffix)
            self._spools.append((open(fd, "w"), name))
        self._frames = self._people = 0
        self._closed = False

    def write(self, frame_index: int, time: float, people: Sequence) -> None:
        """Add one frame (as an image) and its people (as annotations)."""
        images, annotations = (f for f, _ in self._spools)
        image_id = int(frame_index) + 1
        image = {"id": image_id, "frame_id": image_id, "file_name": self._file_name(frame_index),
                 "vid_id": int(self.video_id), "time": round(float(time), 6)}
        images.write(("," if self._frames else "") + json.dumps(image, separators=(",", ":")))
        for person in people:
            kp = np.asarray(person.to_coco17(), dtype=np.float64)
            found = kp[:, 2] > 0
            triples = np.where(found[:, None], np.column_stack([kp[:, :2], np.ones(17)]), 0.0).round(3)
            self._people += 1
            ann = {"id": self._people, "image_id": image_id, "category_id": 1,
                   "track_id": int(getattr(person, "track_id", -1)),
                   "keypoints": triples.reshape(-1).tolist(),
                   "scores": np.where(found, kp[:, 2], 0.0).round(4).tolist(),
                   "score": round(float(person.score), 4)}
            annotations.write(("," if self._people > 1 else "") + json.dumps(ann, separators=(",", ":")))
        self._frames += 1

    def close(self) -> None:
        """Join the spooled lists into the JSON file and move it into place."""
        if self._closed:
            return
        self._closed = True
        for f, _ in self._spools:
            f.close()
        (_, images), (_, annotations) = self._spools
        category = {"id": 1, "name": "person", "supercategory": "person",
                    "keypoints": list(COCO17.keypoint_names),
                    "skeleton": [[a + 1, b + 1] for a, b in COCO17.limbs]}
        fd, tmp = make_temp_file(self.path)
        try:
            with os.fdopen(fd, "w") as out:
                out.write('{"images":[')
                for part, rest in ((images, '],"annotations":['), (annotations, ']')):
                    with open(part) as f:
                        shutil.copyfileobj(f, out)
                    out.write(rest)
                out.write(f',"categories":[{json.dumps(category, separators=(",", ":"))}]}}')
            os.replace(tmp, self.path)
        finally:
            for _, name in self._spools:
                Path(name).unlink(missing_ok=True)
            Path(tmp).unlink(missing_ok=True)

    def __enter__(self) -> PoseTrackWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_posetrack(path: str | Path) -> dict:
    """A PoseTrack-style file as written by :class:`PoseTrackWriter` (plain ``json.load``)."""
    with open(path) as f:
        return json.load(f)

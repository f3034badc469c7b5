"""What ``pafpose infer`` writes, as a library object: feed it a :class:`~pafpose.inference.runner.Runner`'s events.

    writer = ResultWriter("out/", format="coco", render=True)
    with writer:
        for event in Runner(Predictor()).run(["photos/", "clip.mp4"]):
            writer.write(event)

Outputs (in ``out``):

- ``openpose``: ``<name>_keypoints.json`` per image, ``<video>/<video>_<frame:012d>_keypoints.json``
  per frame (OpenPose's ``--write_json`` layout);
- ``coco``: ``results.json`` (COCO keypoint results) and ``images.json`` (each image id's name,
  source and frame), streamed: records are appended to hidden partial files as frames finish and
  the two files are completed on close (also after Ctrl-C or SIGTERM), so memory stays flat on an
  endless stream and finished frames are never lost (:mod:`pafpose.inference.coco_stream`);
- ``render``: ``<name>_rendered.jpg`` and ``<video>_rendered.mp4`` (at the source's frame rate
  divided by the frame step, so it plays at the original speed), in one of the
  :data:`~pafpose.inference.render.STYLES` (``controlnet``: skeletons on black, ControlNet's
  conditioning image);
- ``tracks``: ``<video>_tracks.csv`` or ``.jsonl``, one row per frame and person, and
  ``posetrack``: ``<video>_posetrack.json`` (:mod:`pafpose.io.tracks`), for videos and streams;
  with ``sequences``, one per folder of images read as a sequence, named as a video of the
  folder's name would be: ``<folder>_tracks.csv``, ``<folder>_posetrack.json`` (the folder's
  path relative to the input, or the input folder's own name for its top level; ``-1``, ``-2``
  appended when a table of that name exists already); they are listed under the folder's last
  image in the manifest;
- ``manifest.json``: one entry per input: its path, kind, name and the outputs it produced (and
  its error, if any), and the ``options`` that decide which outputs an input gets (format,
  render, tables, frame range), so a resumed run can tell whether it asks for the same. Names
  are unique per input, so no two inputs share an output.

An output that cannot be written because of its name (over the file system's 255 bytes) or a
rendered video that does not read back (a full disk or a file-size limit, which OpenCV only
warns about) fails that input, in one line (:attr:`ResultWriter.errors`); any other refused
write (a full disk for JSON, a read-only folder) ends the run with an OSError naming the file,
after the manifest is written and with no temporaries left behind.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import UserError
from ..io.discovery import MediaInput
from ..io.outputs import openpose_json, write_image, write_json
from .coco_stream import CocoResultsStream, describe_os_error
from .events import Frame, SourceEnd

__all__ = ["ResultWriter", "CocoResultsStream", "output_options", "FORMATS", "MANIFEST"]

FORMATS = ("openpose", "coco", "none")

#: The file, in the output folder, that lists each input and what was written for it.
MANIFEST = "manifest.json"

#: Write failures that belong to one input's output names, not to the output folder.
_PER_INPUT_ERRNOS = (errno.ENAMETOOLONG, errno.EISDIR)

#: Seconds between the images of a sequence in its tables (the Runner tracks them at this rate).
SEQUENCE_INTERVAL = 1 / 30


def output_options(format: str, render: bool, tracks: str | None, posetrack: bool, start_frame: int = 0,
                   end_frame: int | None = None, frame_step: int = 1) -> dict:
    """The settings that decide which outputs an input gets, as the manifest records them."""
    return {"format": format, "render": bool(render), "tracks": tracks, "posetrack": bool(posetrack),
            "start_frame": start_frame, "end_frame": end_frame, "frame_step": frame_step}


class ResultWriter:
    """Writes a run's outputs under ``out`` as events arrive; :meth:`close` finishes the files.

    Args:
        out: the output folder (created).
        format: "openpose", "coco" or "none".
        render: also write pictures and videos with the skeletons drawn.
        render_threshold, render_opacity: see :func:`pafpose.inference.render.draw_people`.
        frame_step: the runner's frame step (rendered videos play at fps / frame_step).
        render_style: "openpose", "track" (a colour and label per person id) or "controlnet".
        tracks: "csv" or "jsonl": a per-video table of the (tracked) people; None: none.
        posetrack: a per-video PoseTrack JSON of the tracked people.
        draw: how a frame is drawn for --render (default :func:`draw_people` with the options above).
        results_dir: where ``results.json``, ``images.json`` and ``manifest.json`` go (default
            ``out``; the ranks of a sharded run write parts that are merged at the end).
        sequences: the images of each folder are one sequence (the Runner's ``image_sequences``):
            the tables above are written per folder too.
        start_frame, end_frame: the runner's frame range, recorded in the manifest's options.
    """

    def __init__(self, out: str | Path, format: str = "openpose", render: bool = False,
                 render_threshold: float = 0.05, render_opacity: float = 1.0, frame_step: int = 1,
                 render_style: str = "openpose", tracks: str | None = None, posetrack: bool = False,
                 draw: Callable[[np.ndarray, list], np.ndarray] | None = None,
                 results_dir: str | Path | None = None, sequences: bool = False,
                 start_frame: int = 0, end_frame: int | None = None):
        if format not in FORMATS:
            raise UserError(f"unknown output format {format!r} (choose {', '.join(FORMATS)})")
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.format = format
        self.render = render
        self.frame_step = frame_step
        self.results_dir = Path(results_dir) if results_dir is not None else self.out
        self.results_dir.mkdir(parents=True, exist_ok=True)
        if tracks not in (None, "csv", "jsonl"):
            raise UserError(f"unknown tracks table format {tracks!r} (choose csv or jsonl)")
        self.tracks, self.posetrack, self.sequences = tracks, posetrack, sequences
        #: What decides which outputs an input gets; a resumed run must ask for the same.
        self.options = output_options(format, render, tracks, posetrack, start_frame, end_frame, frame_step)
        if draw is None:
            from .render import STYLES, draw_people

            if render_style not in STYLES:
                raise UserError(f"unknown render style {render_style!r} (choose {', '.join(STYLES)})")

            def draw(image, people):
                return draw_people(image, people, min_score=render_threshold, opacity=render_opacity,
                                   style=render_style)
        self.draw = draw
        self.coco = CocoResultsStream(self.results_dir) if format == "coco" else None
        self.manifest: list[dict] = []
        #: One line per input that failed (the runner's errors and the writer's own), in order.
        self.errors: list[str] = []
        self._outputs: dict[MediaInput, list[str]] = {}
        self._videos: dict[MediaInput, object] = {}
        self._frames: dict[MediaInput, int] = {}
        self._failed: dict[MediaInput, str] = {}  # inputs whose outputs could not be written
        self._track_files: dict[MediaInput, list] = {}
        self._sequence_files: dict[Path, _Sequence] = {}
        self._table_names: set[str] = set()
        self._closed = False

    def __enter__(self) -> "ResultWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, event: Frame | SourceEnd) -> np.ndarray | None:
        """Write one event's outputs; returns the rendered picture of a frame when rendering."""
        if isinstance(event, SourceEnd):
            self._end(event)
            return None
        source = event.source
        outputs = self._outputs.setdefault(source, [])
        self._frames[source] = self._frames.get(source, 0) + 1
        if source in self._failed:
            return None
        try:
            return self._write_frame(event, outputs)
        except OSError as err:
            if err.errno not in _PER_INPUT_ERRNOS:
                raise
            self._failed[source] = describe_os_error(err)
        except UserError as err:  # a rendered video that could not be opened
            self._failed[source] = str(err)
        return None

    def _write_frame(self, event: Frame, outputs: list[str]) -> np.ndarray | None:
        source = event.source
        video = source.kind != "image"
        name = f"{source.name}_{event.index:012d}" if video else source.name
        if self.format == "openpose":
            relative = Path(source.name) / f"{Path(name).name}_keypoints.json" if video \
                else Path(f"{name}_keypoints.json")
            write_json(self.out / relative, openpose_json(event.people))
            entry = f"{Path(source.name).as_posix()}/" if video else relative.as_posix()
            if entry not in outputs:
                outputs.append(entry)
        elif self.coco is not None:
            self.coco.add(name, str(source.path), event.index if video else None, event.people)
            for entry in ("results.json", "images.json"):
                if entry not in outputs:
                    outputs.append(entry)
        if self.tracks or self.posetrack:
            if video:
                for writer in self._track_writers(source):
                    writer.write(event.index, event.time if event.time is not None else 0.0, event.people)
            elif self.sequences:
                self._sequence(source).write(source, event.people)
        if not self.render:
            return None
        picture = self.draw(event.image, event.people)
        if video:
            self._video_writer(source, event, picture.shape).write(picture)
        else:
            write_image(self.out / f"{name}_rendered.jpg", picture)
            outputs.append(f"{name}_rendered.jpg")
        return picture

    def _video_writer(self, source: MediaInput, frame: Frame, shape):
        from ..io.media import open_render_writer

        writer = self._videos.get(source)
        if writer is None:
            fps = (frame.fps or 30.0) / self.frame_step
            writer, note = open_render_writer(self.out / f"{source.name}_rendered", fps, (shape[1], shape[0]))
            if note:
                print(f"pafpose infer: note: {note}", file=sys.stderr)
            self._videos[source] = writer
        return writer

    def _table_name(self, stem: str) -> str:
        """``stem``, or ``stem-1``, ``stem-2``, ... when a table of that name was already made
        (a sequence folder named like a video beside it: ``walk/`` and ``walk.mp4``)."""
        name, n = stem, 1
        while name in self._table_names:
            name, n = f"{stem}-{n}", n + 1
        self._table_names.add(name)
        return name

    def _table_writers(self, stem: str, file_names=None) -> list:
        from ..io.tracks import PoseTrackWriter, TrackTableWriter

        writers = []
        if self.tracks:
            writers.append(TrackTableWriter(self.out / f"{stem}_tracks.{self.tracks}"))
        if self.posetrack:
            writers.append(PoseTrackWriter(self.out / f"{stem}_posetrack.json", file_names=file_names))
        return writers

    def _track_writers(self, source: MediaInput) -> list:
        writers = self._track_files.get(source)
        if writers is None:
            writers = self._track_files[source] = self._table_writers(self._table_name(source.name))
        return writers

    def _sequence(self, source: MediaInput) -> "_Sequence":
        folder = Path(str(source.path)).parent
        sequence = self._sequence_files.get(folder)
        if sequence is None:
            relative = Path(source.name).parent
            label = (relative if relative != Path(".") else Path(folder.name or "sequence")).as_posix()
            sequence = _Sequence()
            sequence.writers = self._table_writers(self._table_name(label), sequence.file_names.__getitem__)
            self._sequence_files[folder] = sequence
        return sequence

    def _end(self, end: SourceEnd, complete: bool = True) -> None:
        source = end.source
        outputs = self._outputs.pop(source, [])
        error = end.error or self._failed.pop(source, None)
        for writer in self._track_files.pop(source, []):
            writer.close()
            outputs.append(Path(writer.path).relative_to(self.out).as_posix())
        writer = self._videos.pop(source, None)
        if writer is not None:
            try:
                writer.close(keep=complete)
                if complete:
                    outputs.insert(0, writer.path.relative_to(self.out).as_posix())
            except UserError as err:  # it did not read back: full disk, file-size limit
                error = str(err)
        entry = {"input": str(source.path), "kind": source.kind, "name": source.name,
                 "frames": self._frames.pop(source, 0), "outputs": outputs,
                 **({"dropped": end.dropped} if end.dropped else {}), **({"error": error} if error else {})}
        self.manifest.append(entry)
        if source.kind == "image" and self.sequences and (self.tracks or self.posetrack):
            sequence = self._sequence_files.get(Path(str(source.path)).parent)
            if sequence is not None:
                sequence.last_entry = entry
        if error and complete:
            self.errors.append(error)

    def close(self, interrupted: bool = False) -> None:
        """Finish every file: sources in progress are noted in the manifest (a partial rendered
        video is discarded), sequence tables and COCO results completed, the manifest written.

        A COCO results file that could not be written is no output of any input: the manifest
        says so (so ``--resume`` redoes them) before the OSError naming it is raised again.
        """
        if self._closed:
            return
        self._closed = True
        pending = list(self._outputs) + [s for s in [*self._videos, *self._track_files] if s not in self._outputs]
        for source in dict.fromkeys(pending):
            self._end(SourceEnd(source, 0, error="interrupted" if interrupted else "unfinished"),
                      complete=False)
        for sequence in self._sequence_files.values():
            for writer in sequence.writers:
                writer.close()
                if sequence.last_entry is not None:
                    sequence.last_entry["outputs"].append(Path(writer.path).relative_to(self.out).as_posix())
        failure = None
        if self.coco is not None:
            try:
                self.coco.close()
            except OSError as err:
                failure = err
            if self.coco.failed:
                for entry in self.manifest:
                    if "results.json" in entry["outputs"]:
                        entry["outputs"] = [o for o in entry["outputs"] if o not in ("results.json", "images.json")]
                        entry.setdefault("error", f"COCO results not written: {self.coco.failed}")
        if self.manifest:
            write_json(self.results_dir / MANIFEST, {"inputs": self.manifest, "options": self.options})
        if failure is not None:
            raise failure


class _Sequence:
    """The tables of one folder of images read as a sequence: frame i is its i-th image."""

    def __init__(self):
        self.writers: list = []
        self.file_names: dict[int, str] = {}
        self.last_entry: dict | None = None  # the manifest entry its tables are listed under

    def write(self, source: MediaInput, people) -> None:
        index = len(self.file_names)
        self.file_names[index] = Path(str(source.path)).name
        for writer in self.writers:
            writer.write(index, index * SEQUENCE_INTERVAL, people)

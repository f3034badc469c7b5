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
  endless stream and finished frames are never lost;
- ``render``: ``<name>_rendered.jpg`` and ``<video>_rendered.mp4`` (at the source's frame rate
  divided by the frame step, so it plays at the original speed), in one of the
  :data:`~pafpose.inference.render.STYLES` (``controlnet``: skeletons on black, ControlNet's
  conditioning image);
- ``tracks``: ``<video>_tracks.csv`` or ``.jsonl``, one row per frame and person, and
  ``posetrack``: ``<video>_posetrack.json`` (:mod:`pafpose.io.tracks`), for videos and streams;
- ``manifest.json``: one entry per input: its path, kind, name and the outputs it produced (and
  its error, if any). Names are unique per input, so no two inputs share an output.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from ..io.media import MediaInput
from ..io.outputs import make_temp_file, openpose_json, write_image, write_json
from .runner import Frame, SourceEnd

__all__ = ["ResultWriter", "CocoResultsStream", "FORMATS"]

FORMATS = ("openpose", "coco", "none")


class CocoResultsStream:
    """``results.json`` and ``images.json`` written as they grow, completed by :meth:`close`.

    Image ids: a numeric file name keeps its number when it is larger than every id so far,
    else the next free id; only the largest id is remembered, so the cost per frame is constant.
    """

    def __init__(self, folder: Path, first_id: int = 1):
        self.folder = Path(folder)
        self.next_id = first_id
        self._files = {}
        for name in ("results.json", "images.json"):
            fd, tmp = make_temp_file(self.folder / name, suffix=".partial")
            f = os.fdopen(fd, "w")
            f.write("[")
            self._files[name] = (f, Path(tmp), [True])

    def _append(self, name: str, records: list[dict]) -> None:
        f, _, first = self._files[name]
        for record in records:
            f.write(("\n" if first[0] else ",\n") + json.dumps(record, separators=(",", ":")))
            first[0] = False
        f.flush()

    def add(self, name: str, source: str, frame: int | None, people) -> int:
        """Record one image or frame's people; returns its image id."""
        from .evaluate import people_to_coco_results

        stem = name.rsplit("/", 1)[-1]  # not Path: it interns every name it parses
        image_id = int(stem) if stem.isdigit() and int(stem) >= self.next_id else self.next_id
        self.next_id = image_id + 1
        self._append("images.json", [{"id": image_id, "file_name": name, "source": source,
                                      **({"frame": frame} if frame is not None else {})}])
        self._append("results.json", people_to_coco_results(people, image_id))
        return image_id

    def close(self) -> None:
        """Complete both files and move them into place."""
        for name, (f, tmp, _) in self._files.items():
            if f.closed:
                continue
            f.write("\n]\n")
            f.close()
            os.replace(tmp, self.folder / name)

    def discard(self) -> None:
        for f, tmp, _ in self._files.values():
            f.close()
            tmp.unlink(missing_ok=True)


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
    """

    def __init__(self, out: str | Path, format: str = "openpose", render: bool = False,
                 render_threshold: float = 0.05, render_opacity: float = 1.0, frame_step: int = 1,
                 render_style: str = "openpose", tracks: str | None = None, posetrack: bool = False,
                 draw: Callable[[np.ndarray, list], np.ndarray] | None = None,
                 results_dir: str | Path | None = None):
        from ..errors import UserError

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
        self.tracks, self.posetrack = tracks, posetrack
        if draw is None:
            from .render import STYLES, draw_people

            if render_style not in STYLES:
                raise UserError(f"unknown render style {render_style!r} (choose {', '.join(STYLES)})")

            def draw(image, people):
                return draw_people(image, people, min_score=render_threshold, opacity=render_opacity,
                                   style=render_style)
        self.draw = draw
        self._sequence_files: dict[MediaInput, list] = {}
        self.coco = CocoResultsStream(self.results_dir) if format == "coco" else None
        self.manifest: list[dict] = []
        self._outputs: dict[MediaInput, list[str]] = {}
        self._videos: dict[MediaInput, object] = {}
        self._frames: dict[MediaInput, int] = {}
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
        if video and (self.tracks or self.posetrack):
            for writer in self._track_writers(source):
                writer.write(event.index, event.time if event.time is not None else 0.0, event.people)
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

    def _track_writers(self, source: MediaInput) -> list:
        writers = self._sequence_files.get(source)
        if writers is None:
            from ..io.tracks import PoseTrackWriter, TrackTableWriter

            writers = []
            if self.tracks:
                writers.append(TrackTableWriter(self.out / f"{source.name}_tracks.{self.tracks}"))
            if self.posetrack:
                writers.append(PoseTrackWriter(self.out / f"{source.name}_posetrack.json"))
            self._sequence_files[source] = writers
        return writers

    def _end(self, end: SourceEnd, complete: bool = True) -> None:
        outputs = self._outputs.pop(end.source, [])
        for writer in self._sequence_files.pop(end.source, []):
            writer.close()
            outputs.append(Path(writer.path).relative_to(self.out).as_posix())
        writer = self._videos.pop(end.source, None)
        if writer is not None:
            writer.close(keep=complete)
            if complete:
                outputs.insert(0, writer.path.relative_to(self.out).as_posix())
        self.manifest.append({"input": str(end.source.path), "kind": end.source.kind,
                              "name": end.source.name, "frames": self._frames.pop(end.source, 0),
                              "outputs": outputs,
                              **({"dropped": end.dropped} if end.dropped else {}),
                              **({"error": end.error} if end.error else {})})

    def close(self, interrupted: bool = False) -> None:
        """Finish every file: sources in progress are noted in the manifest (a partial rendered
        video is discarded), COCO results completed, the manifest written."""
        if self._closed:
            return
        self._closed = True
        pending = list(self._outputs) + [s for s in [*self._videos, *self._sequence_files] if s not in self._outputs]
        for source in dict.fromkeys(pending):
            self._end(SourceEnd(source, 0, error="interrupted" if interrupted else "unfinished"),
                      complete=False)
        if self.coco is not None:
            self.coco.close()
        if self.manifest:
            write_json(self.results_dir / "manifest.json", {"inputs": self.manifest})

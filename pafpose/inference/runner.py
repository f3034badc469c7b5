"""The real-time engine: images, folders, videos, cameras and streams through a pipeline.

Three threads and the caller overlap their work, joined by bounded queues so memory stays flat
on an endless stream:

    reader  ──▶  network (resize, pad, run)  ──▶  decoder (people, tracking)  ──▶  caller
                                                                          (outputs, rendering)

The network and OpenCV release the GIL, so on a 2-core CPU reading and decoding the next frames
hide behind the network. Frames come out in the order they were read. Files never drop a
frame: the reader waits when the queues are full. Live sources (cameras, URLs) drop stale
frames instead: a frame still waiting for the network when a newer one arrives is replaced, so
latency stays bounded by one network call plus decoding; :class:`SourceEnd` counts the drops.

Frames are batched only when ``predictor.batch_size`` > 1 (the default on GPUs; on CPUs batching
is slower), and only consecutive frames of one file of one size.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..codec.people import Person
from ..errors import UserError
from ..io.media import MediaInput, check_frame_range, discover_inputs

__all__ = ["Frame", "SourceEnd", "Runner", "RunStats"]


@dataclass
class Frame:
    """One image or video frame and the people in it.

    ``index`` is the frame number in its source (0 for an image); ``time`` the seconds from the
    start of a video (``index / fps``), None for images; ``latency`` the seconds from reading
    the frame to its people being ready.
    """

    source: MediaInput
    index: int
    time: float | None
    image: np.ndarray
    people: list[Person]
    latency: float = 0.0
    fps: float | None = None  # of the source video


@dataclass
class SourceEnd:
    """A source is finished: ``frames`` processed, ``dropped`` stale live frames skipped,
    ``error`` what went wrong (None when it ended normally; the frames before it were yielded)."""

    source: MediaInput
    frames: int
    dropped: int = 0
    error: str | None = None


@dataclass
class RunStats:
    """Throughput and latency of the frames that came out so far."""

    frames: int = 0
    dropped: int = 0
    seconds: float = 0.0
    latencies: collections.deque = field(default_factory=lambda: collections.deque(maxlen=1000))

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def latency(self, quantile: float = 0.5) -> float:
        """Seconds from read to people, over the last 1000 frames."""
        return float(np.quantile(list(self.latencies), quantile)) if self.latencies else 0.0


@dataclass
class _Item:
    source: MediaInput
    index: int
    time: float | None
    image: np.ndarray
    read_at: float
    fps: float | None = None
    live: bool = False


class _Stop(Exception):
    """The pipeline was closed by its consumer."""


class _Channel:
    """A bounded FIFO between two threads; ``put_latest`` replaces a waiting live frame."""

    def __init__(self, size: int, stop: threading.Event):
        self.items: collections.deque = collections.deque()
        self.size = max(1, size)
        self.cond = threading.Condition()
        self.stop = stop

    def put(self, item) -> None:
        with self.cond:
            while len(self.items) >= self.size:
                if self.stop.is_set():
                    raise _Stop
                self.cond.wait(0.1)
            self.items.append(item)
            self.cond.notify_all()

    def put_latest(self, item: _Item) -> int:
        """Queue a live frame, first removing frames of its source still waiting; returns how many."""
        with self.cond:
            before = len(self.items)
            self.items = collections.deque(
                x for x in self.items if not (isinstance(x, _Item) and x.source == item.source))
            dropped = before - len(self.items)
            while len(self.items) >= self.size:  # only markers left ahead of it: wait for them
                if self.stop.is_set():
                    raise _Stop
                self.cond.wait(0.1)
            self.items.append(item)
            self.cond.notify_all()
            return dropped

    def get(self, wait: bool = True):
        with self.cond:
            while not self.items:
                if self.stop.is_set():
                    raise _Stop
                if not wait:
                    return None
                self.cond.wait(0.1)
            item = self.items.popleft()
            self.cond.notify_all()
            return item


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


_DONE = object()


class Runner:
    """People per frame of files, folders, cameras and streams, through a pipelined Predictor.

    Args:
        predictor: a :class:`~pafpose.inference.predict.Predictor` (its backend, precision,
            input height, decoder settings and ``batch_size`` apply).
        start_frame, end_frame, frame_step: which video frames (``end_frame`` exclusive).
        queue_size: frames waiting between two stages (memory: about 3 x this many frames).
        tracker: a callable returning a fresh per-source tracker with ``update(people, time)
            -> people`` (e.g. :class:`pafpose.tracking.PoseTracker`), or None: person ids over
            each video, camera or stream.
        smoother: likewise a per-source smoother run after the tracker (e.g.
            :class:`pafpose.tracking.OneEuroSmoother`), or None.
        image_sequences: with a tracker, the images of one folder are one sequence (in name
            order, 1/30 s apart) rather than unrelated pictures.
        realtime: play video files as a camera delivers frames, at their own frame rate, and
            drop stale ones like a live source (to try a live set-up on a recording).

    Use :meth:`frames` for the frames only, :meth:`run` for frames and the end of each source::

        runner = Runner(Predictor())
        for frame in runner.frames(["clip.mp4"]):
            print(frame.index, [p.score for p in frame.people])
    """

    def __init__(self, predictor, start_frame: int = 0, end_frame: int | None = None,
                 frame_step: int = 1, queue_size: int = 2,
                 tracker: Callable[[], Any] | None = None, smoother: Callable[[], Any] | None = None,
                 image_sequences: bool = False, realtime: bool = False):
        check_frame_range(start_frame, end_frame, frame_step)
        self.predictor = predictor
        self.start_frame, self.end_frame, self.frame_step = start_frame, end_frame, frame_step
        self.queue_size = queue_size
        self.tracker = tracker
        self.smoother = smoother
        self.image_sequences = image_sequences
        self.realtime = realtime
        self.stats = RunStats()

    # -----------------------------------------------------------------------------------------

    def frames(self, inputs: Iterable[str | Path | MediaInput] | str | Path) -> Iterator[Frame]:
        """The frames of ``inputs`` with their people, in order (sources that fail are skipped;
        use :meth:`run` to see why)."""
        for event in self.run(inputs):
            if isinstance(event, Frame):
                yield event

    def run(self, inputs: Iterable[str | Path | MediaInput] | str | Path) -> Iterator[Frame | SourceEnd]:
        """Every processed frame, and a :class:`SourceEnd` after each source's last frame.

        ``inputs``: paths of images, videos or folders (searched recursively), camera indices,
        stream URLs, or :class:`~pafpose.io.media.MediaInput` items from
        :func:`~pafpose.io.media.discover_inputs`. Closing the iterator (``break``) stops the
        pipeline's threads.
        """
        sources = self._sources(inputs)
        stop = threading.Event()
        read_q, maps_q, out_q = (_Channel(self.queue_size, stop) for _ in range(3))
        threads = [threading.Thread(target=self._guard, args=(target, args, out, stop), daemon=True,
                                    name=f"pafpose-{target.__name__.strip('_')}")
                   for target, args, out in ((self._read, (sources, read_q), read_q),
                                             (self._infer, (read_q, maps_q), maps_q),
                                             (self._decode, (maps_q, out_q), out_q))]
        for thread in threads:
            thread.start()
        started = time.perf_counter()
        try:
            while True:
                event = out_q.get()
                if event is _DONE:
                    return
                if isinstance(event, _Failure):
                    raise event.error
                if isinstance(event, Frame):
                    self.stats.frames += 1
                    self.stats.latencies.append(event.latency)
                elif isinstance(event, SourceEnd):
                    self.stats.dropped += event.dropped
                self.stats.seconds = time.perf_counter() - started
                yield event
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)

    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _sources(inputs) -> list[MediaInput]:
        if isinstance(inputs, (str, Path, MediaInput)):
            inputs = [inputs]
        items = list(inputs)
        given = [x for x in items if isinstance(x, MediaInput)]
        found, errors = discover_inputs([x for x in items if not isinstance(x, MediaInput)]) \
            if len(given) < len(items) else ([], [])
        if errors and not found and not given:
            raise UserError("; ".join(errors))
        return given + found

    @staticmethod
    def _guard(target, args, out: _Channel, stop: threading.Event) -> None:
        """Run one stage; pass an error downstream (the consumer re-raises it) and end the chain."""
        try:
            target(*args)
        except _Stop:
            return
        except BaseException as err:  # noqa: BLE001 - handed to the consumer's thread
            try:
                out.put(_Failure(err))
            except _Stop:
                pass

    def _read(self, sources: list[MediaInput], out: _Channel) -> None:
        from ..io.images import read_image
        from ..io.media import VideoReader

        for source in sources:
            count = dropped = 0
            error = None
            try:
                if source.kind == "image":
                    out.put(_Item(source, 0, None, read_image(source.path), time.perf_counter()))
                    count = 1
                else:
                    live = source.kind == "stream" or self.realtime
                    reader = VideoReader(source.path, self.start_frame, self.end_frame, self.frame_step)
                    fps = reader.info.fps
                    started = time.perf_counter()
                    for n, frame in enumerate(reader):
                        index = self.start_frame + n * self.frame_step
                        if self.realtime and source.kind != "stream":
                            time.sleep(max(0.0, started + n * self.frame_step / fps - time.perf_counter()))
                        item = _Item(source, index, index / fps, frame, time.perf_counter(), fps, live)
                        if live:
                            dropped += out.put_latest(item)
                        else:
                            out.put(item)
                        count += 1
            except UserError as err:
                error = str(err)
            out.put(SourceEnd(source, count - dropped, dropped, error))
        out.put(_DONE)

    def _infer(self, inp: _Channel, out: _Channel) -> None:
        failed: dict[MediaInput, str] = {}
        pending: _Item | None = None
        while True:
            item = pending or inp.get()
            pending = None
            if not isinstance(item, _Item):
                if isinstance(item, SourceEnd) and item.source in failed and item.error is None:
                    item.error = failed.pop(item.source)
                out.put(item)
                if item is _DONE or isinstance(item, _Failure):
                    return
                continue
            batch = [item]
            while len(batch) < self.predictor.batch_size and not item.live:
                following = inp.get(wait=True)
                if isinstance(following, _Item) and following.source == item.source \
                        and following.image.shape == item.image.shape:
                    batch.append(following)
                else:
                    pending = following
                    break
            try:
                maps = self.predictor.network_maps([x.image for x in batch])
            except (RuntimeError, MemoryError) as err:  # e.g. out of memory on one huge input
                failed[item.source] = f"{item.source.path}: {type(err).__name__}: {str(err).splitlines()[0]}"
                continue
            for x, m in zip(batch, maps):
                out.put((x, m))

    def _decode(self, inp: _Channel, out: _Channel) -> None:
        over_time = _OverTime(self.tracker, self.smoother, self.image_sequences)
        while True:
            item = inp.get()
            if item is _DONE or isinstance(item, _Failure):
                out.put(item)
                return
            if isinstance(item, SourceEnd):
                over_time.end(item.source)
                out.put(item)
                continue
            x, (heatmaps, pafs, resize) = item
            people = over_time.update(x, self.predictor.decode_maps(heatmaps, pafs, resize))
            out.put(Frame(x.source, x.index, x.time, x.image, people,
                          time.perf_counter() - x.read_at, x.fps))


class _OverTime:
    """The tracker and smoother of each sequence: a video or stream, or with ``image_sequences``
    the images of one folder."""

    IMAGE_INTERVAL = 1 / 30  # seconds between the images of a sequence, for the smoother

    def __init__(self, tracker, smoother, image_sequences: bool):
        self.tracker, self.smoother, self.image_sequences = tracker, smoother, image_sequences
        self.state: dict[Any, list] = {}  # key -> [tracker, smoother, images seen]

    def _key(self, source: MediaInput):
        if source.kind == "image" and self.image_sequences:
            return Path(str(source.path)).parent
        return source

    def update(self, item: _Item, people: list[Person]) -> list[Person]:
        if self.tracker is None:
            return people
        key = self._key(item.source)
        state = self.state.get(key)
        if state is None:
            state = self.state[key] = [self.tracker(), self.smoother() if self.smoother else None, 0]
        if item.time is not None:
            now = item.time
        else:
            now = state[2] * self.IMAGE_INTERVAL
            state[2] += 1
        people = state[0].update(people, now)
        return state[1].update(people, now) if state[1] is not None else people

    def end(self, source: MediaInput) -> None:
        if source.kind != "image" or not self.image_sequences:
            self.state.pop(self._key(source), None)

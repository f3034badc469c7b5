"""The real-time engine: the Predictor's stages as a pipeline over files, folders, videos,
cameras and streams.

    reader pool ─▶ network thread ─▶ people decoder ─▶ tracking thread ─▶ caller
    (read, resize,   (batch, run,     (in-process, or    (in order, per      (outputs,
     pad)             post-process)    worker processes)  source: tracker,    rendering)
                                                          smoother)

Stages are joined by bounded queues so memory stays flat on an endless stream. Frames come out in
the order they were read (per source); files never drop a frame, live sources drop stale ones
(latency stays bounded by one network call plus decoding; :class:`SourceEnd` counts the drops).
The network, OpenCV and the decode workers release the GIL, so on a 2-core CPU reading and
decoding the next frames hide behind the network, and on a GPU machine the host's cores decode
in parallel (:mod:`pafpose.inference.decode_pool`). Frames of one size are batched up to
``predictor.batch_size`` (the default on GPUs is 8; on CPUs batching is slower), across sources
too when several are read at once.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures as cf
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import UserError
from ..io.media import MediaInput, check_frame_range, discover_inputs
from ..tracking.sequences import SequenceTracking
from .decode_pool import DecodeExecutor, make_decode_executor
from .events import Frame, RunStats, SourceEnd
from .reading import Channel, Item, SourceReader, Stop

__all__ = ["Frame", "SourceEnd", "Runner", "RunStats", "SourceError"]


class SourceError(UserError):
    """Sources failed while :meth:`Runner.frames` ran; the other sources' frames were yielded."""


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


_DONE = object()
_running: "weakref.WeakSet[_Pipeline]" = weakref.WeakSet()


@atexit.register
def _stop_pipelines() -> None:
    """A script that ends while a Runner's generator is suspended: stop its threads before the
    interpreter tears down the libraries they are inside (which aborts the process)."""
    for pipeline in list(_running):
        pipeline.close()


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
        decode_workers: decoder processes (0: decode in the pipeline's own thread; None: as
            many as the cores the network leaves, see
            :func:`~pafpose.inference.decode_pool.default_decode_workers`).
        image_readers: threads reading and preparing images ahead (default: 2, 8 on a GPU).
        sources_at_once: videos and streams read at the same time, their frames batched together
            (default: 1, 8 on a GPU).

    Use :meth:`frames` for the frames only, :meth:`run` for frames and the end of each source::

        runner = Runner(Predictor())
        for frame in runner.frames(["clip.mp4"]):
            print(frame.index, [p.score for p in frame.people])
    """

    def __init__(self, predictor, start_frame: int = 0, end_frame: int | None = None,
                 frame_step: int = 1, queue_size: int = 2,
                 tracker: Callable[[], Any] | None = None, smoother: Callable[[], Any] | None = None,
                 image_sequences: bool = False, realtime: bool = False, decode_workers: int | None = None,
                 image_readers: int | None = None, sources_at_once: int | None = None):
        check_frame_range(start_frame, end_frame, frame_step)
        gpu = predictor.device.type == "cuda"
        for name, value in (("decode_workers", decode_workers), ("image_readers", image_readers),
                            ("sources_at_once", sources_at_once)):
            if value is not None and value < (0 if name == "decode_workers" else 1):
                raise UserError(f"{name} must be at least {0 if name == 'decode_workers' else 1}, got {value}")
        self.predictor = predictor
        self.start_frame, self.end_frame, self.frame_step = start_frame, end_frame, frame_step
        self.queue_size = queue_size
        self.tracker, self.smoother, self.image_sequences = tracker, smoother, image_sequences
        self.realtime = realtime
        self.decode_workers = decode_workers
        self.image_readers = image_readers or (8 if gpu else 2)
        self.sources_at_once = sources_at_once or (8 if gpu else 1)
        self.stats = RunStats()

    # -----------------------------------------------------------------------------------------

    def frames(self, inputs: Iterable[str | Path | MediaInput] | str | Path,
               errors: str = "raise") -> Iterator[Frame]:
        """The frames of ``inputs`` with their people, in order.

        ``errors="raise"``: after the last frame, a :class:`SourceError` names every source that
        failed (missing, unreadable, a camera that stopped); ``"skip"``: they are only left out
        (:meth:`run` says why in its :class:`SourceEnd` events).
        """
        if errors not in ("raise", "skip"):
            raise UserError(f"errors must be 'raise' or 'skip', got {errors!r}")
        failed = []
        for event in self.run(inputs):
            if isinstance(event, Frame):
                yield event
            elif event.error:
                failed.append(event.error)
        if failed and errors == "raise":
            raise SourceError(f"{len(failed)} source(s) failed: {'; '.join(failed)}")

    def run(self, inputs: Iterable[str | Path | MediaInput] | str | Path) -> Iterator[Frame | SourceEnd]:
        """Every processed frame, and a :class:`SourceEnd` after each source's last frame (and one
        with an ``error`` for each input that could not be opened or found).

        ``inputs``: paths of images, videos or folders (searched recursively), camera indices,
        stream URLs, or :class:`~pafpose.io.media.MediaInput` items from
        :func:`~pafpose.io.media.discover_inputs`. Closing the iterator (``break``) stops the
        pipeline's threads and worker processes.
        """
        sources, missing = self._sources(inputs)
        yield from missing
        pipeline = _Pipeline(self, sources)
        _running.add(pipeline)
        started = time.perf_counter()
        try:
            while True:
                event = pipeline.out.get()
                if event is _DONE:
                    return
                if isinstance(event, _Failure):
                    raise event.error
                if isinstance(event, Frame):
                    self.stats.frames += 1
                    self.stats.latencies.append(event.latency)
                    self.stats.times += event.times
                elif isinstance(event, SourceEnd):
                    self.stats.dropped += event.dropped
                self.stats.seconds = time.perf_counter() - started
                yield event
        finally:
            pipeline.close()
            _running.discard(pipeline)

    @staticmethod
    def _sources(inputs) -> tuple[list[MediaInput], list[SourceEnd]]:
        """(what to read, a failed SourceEnd per input that cannot be read at all)."""
        if isinstance(inputs, (str, Path, MediaInput)):
            inputs = [inputs]
        sources, missing = [], []
        for given in inputs:
            if isinstance(given, MediaInput):
                sources.append(given)
                continue
            found, errors = discover_inputs([given])
            sources += found
            missing += [SourceEnd(MediaInput(given, "missing", str(given)), 0, error=error) for error in errors]
        if missing and not sources:
            raise UserError("; ".join(end.error for end in missing))
        return sources, missing


class _Pipeline:
    """One run's threads, queues and decode executor."""

    def __init__(self, runner: Runner, sources: list[MediaInput]):
        self.runner, self.predictor = runner, runner.predictor
        self.stop = threading.Event()
        size = runner.queue_size
        # Enough frames read ahead to fill a batch while the previous one runs.
        self.read_q = Channel(max(size, 2 * self.predictor.images_per_call), self.stop)
        self.maps_q, self.people_q, self.out = (Channel(size, self.stop) for _ in range(3))
        self.executor: DecodeExecutor = make_decode_executor(
            self.predictor.decoder, runner.decode_workers, self.predictor.device.type,
            getattr(self.predictor, "threads", None))
        if runner.realtime or any(source.kind == "stream" for source in sources):
            try:
                self.executor.ready()  # live frames would otherwise queue behind worker start-up
            except BaseException:
                self.executor.close()
                raise
        runner.stats.parallel = {"decode": max(1, self.executor.workers),
                                 "read": runner.image_readers if any(s.kind == "image" for s in sources)
                                 else runner.sources_at_once}
        predictor = self.predictor

        def prepare(image):
            return predictor.preprocessor.pad(image, predictor.resize(image.shape[1::-1]))

        reader = SourceReader(prepare if predictor.scales == (1.0,) else None, runner.start_frame,
                              runner.end_frame, runner.frame_step, runner.realtime, runner.image_readers,
                              runner.sources_at_once)
        stages = ((lambda: (reader.run(sources, self.read_q, self.stop), self.read_q.put(_DONE)), self.read_q),
                  (self._network, self.maps_q), (self._decode, self.people_q), (self._track, self.out))
        self.threads = [threading.Thread(target=self._guard, args=(target, out), daemon=True,
                                         name=f"pafpose-{name}")
                        for (target, out), name in zip(stages, ("read", "network", "decode", "track"))]
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self.executor.close()

    def _guard(self, target, out: Channel) -> None:
        """Run one stage; pass an error downstream (the consumer re-raises it) and end the chain."""
        try:
            target()
        except Stop:
            return
        except BaseException as err:  # noqa: BLE001 - handed to the consumer's thread
            try:
                out.put(_Failure(err))
            except Stop:
                pass

    def _network(self) -> None:
        failed: dict[MediaInput, str] = {}
        pending = None
        batch_size = self.predictor.images_per_call

        def input_size(x: Item) -> tuple[int, ...]:  # frames that share it share a network call
            return x.padded.shape if x.padded is not None else self.predictor.input_size(x.image.shape[1::-1])

        while True:
            item = pending or self.read_q.get()
            pending = None
            if not isinstance(item, Item):
                if isinstance(item, SourceEnd) and item.source in failed and item.error is None:
                    item.error = failed.pop(item.source)
                self.maps_q.put(item)
                if item is _DONE or isinstance(item, _Failure):
                    return
                continue
            if item.source in failed:
                continue
            batch, size = [item], input_size(item)
            while len(batch) < batch_size and not item.live:
                following = self.read_q.get()  # files: wait for a full batch (live frames run alone)
                if isinstance(following, Item) and not following.live and input_size(following) == size \
                        and (following.padded is None) == (item.padded is None):
                    batch.append(following)
                else:
                    pending = following
                    break
            try:
                maps = self.predictor.image_maps([x.image for x in batch], [x.padded for x in batch])
            except (RuntimeError, MemoryError) as err:  # e.g. out of memory on one huge input
                failed[item.source] = f"{item.source.path}: {type(err).__name__}: {str(err).splitlines()[0]}"
                continue
            for x, m in zip(batch, maps):
                x.times += m.times
                x.padded = None  # the network is done with it: free the memory early
                self.maps_q.put((x, m))

    def _decode(self) -> None:
        """Decode in the executor; hand each frame's people on in frame order."""
        in_flight: collections.deque = collections.deque()  # (item or marker, future or None), in order
        finished = False
        while True:
            while in_flight and (in_flight[0][1] is None or in_flight[0][1].done()):
                item, future = in_flight.popleft()
                if future is None:
                    self.people_q.put(item)
                    if item is _DONE or isinstance(item, _Failure):
                        return
                else:  # a dead worker raises here, ending the run with its error
                    self.people_q.put((item, *future.result()))
            busy = sum(future is not None and not future.done() for _, future in in_flight)
            if not finished and busy < self.executor.slots:
                entry = self.maps_q.get(wait=not in_flight, timeout=0.001 if in_flight else None)
                if entry is not None:
                    if isinstance(entry, tuple):
                        item, maps = entry
                        in_flight.append((item, self.executor.submit(maps.heatmaps, maps.pafs, maps.resize)))
                    else:
                        finished = entry is _DONE or isinstance(entry, _Failure)
                        in_flight.append((entry, None))
                    continue
            if in_flight:  # wait a moment for the oldest frame's people
                cf.wait([in_flight[0][1]], timeout=0.002)

    def _track(self) -> None:
        """Track and smooth in frame order per source, on a thread of its own: decoding goes on
        being handed out while a frame is tracked."""
        tracking = SequenceTracking(self.runner.tracker, self.runner.smoother, self.runner.image_sequences)
        while True:
            entry = self.people_q.get()
            if not isinstance(entry, tuple):
                if isinstance(entry, SourceEnd):
                    tracking.end(entry.source)
                self.out.put(entry)
                if entry is _DONE or isinstance(entry, _Failure):
                    return
                continue
            item, people, seconds = entry
            item.times.decode = seconds
            start = time.perf_counter()
            people = tracking.update(item.source, item.time, item.image, people)
            item.times.track = time.perf_counter() - start
            self.out.put(Frame(item.source, item.index, item.time, item.image, people,
                               time.perf_counter() - item.read_at, item.fps, item.times))

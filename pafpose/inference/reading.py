"""The Runner's first stage: sources read into frames ahead of the network.

Images are read (decoded, EXIF-rotated) and prepared for the network (resized and padded) by a
pool of threads, in order; each video or stream is read on a thread of its own; with
``sources_at_once`` > 1 that many videos or streams are read at once, their frames interleaved
(each source's own frames stay in order) so the network batches across them. OpenCV releases
the GIL, so the pool's threads really run in parallel.

Files never drop a frame: readers wait while the queue ahead is full. Live sources (cameras,
URLs, or files played in real time) drop stale frames instead (``Channel.put_latest``).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import UserError
from ..io.images import read_image
from ..io.media import MediaInput, VideoReader
from .events import SourceEnd
from .stages import StageTimes

__all__ = ["Item", "Channel", "Stop", "SourceReader"]


@dataclass
class Item:
    """A frame on its way through the pipeline."""

    source: MediaInput
    index: int
    time: float | None
    image: np.ndarray
    read_at: float
    fps: float | None = None
    live: bool = False
    padded: np.ndarray | None = None  # resized and padded for the network, when done ahead
    times: StageTimes = field(default_factory=StageTimes)


class Stop(Exception):
    """The pipeline was closed by its consumer."""


class Channel:
    """A bounded FIFO between threads; ``put_latest`` replaces a waiting live frame."""

    def __init__(self, size: int, stop: threading.Event):
        self.items: collections.deque = collections.deque()
        self.size = max(1, size)
        self.cond = threading.Condition()
        self.stop = stop

    def put(self, item) -> None:
        with self.cond:
            while len(self.items) >= self.size:
                if self.stop.is_set():
                    raise Stop
                self.cond.wait(0.1)
            self.items.append(item)
            self.cond.notify_all()

    def put_latest(self, item: Item) -> int:
        """Queue a live frame, first removing frames of its source still waiting; returns how many."""
        with self.cond:
            before = len(self.items)
            self.items = collections.deque(
                x for x in self.items if not (isinstance(x, Item) and x.source == item.source))
            dropped = before - len(self.items)
            while len(self.items) >= self.size:  # only markers left ahead of it: wait for them
                if self.stop.is_set():
                    raise Stop
                self.cond.wait(0.1)
            self.items.append(item)
            self.cond.notify_all()
            return dropped

    def get(self, wait: bool = True, timeout: float | None = None):
        """The next item; None when ``wait`` is False (or ``timeout`` passed) and there is none."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        with self.cond:
            while not self.items:
                if self.stop.is_set():
                    raise Stop
                if not wait or (deadline is not None and time.perf_counter() >= deadline):
                    return None
                self.cond.wait(0.1 if deadline is None else max(0.0, min(0.1, deadline - time.perf_counter())))
            item = self.items.popleft()
            self.cond.notify_all()
            return item


class SourceReader:
    """Reads sources into :class:`Item` s on a channel, each followed by its :class:`SourceEnd`.

    Args:
        prepare: (image) -> the network input resized and padded, done ahead in the reading
            threads (None: the network stage prepares).
        start_frame, end_frame, frame_step: which video frames.
        realtime: play files at their frame rate and drop stale frames like a live source.
        image_readers: threads reading images ahead.
        sources_at_once: videos/streams read at once.
    """

    def __init__(self, prepare: Callable[[np.ndarray], np.ndarray] | None, start_frame: int = 0,
                 end_frame: int | None = None, frame_step: int = 1, realtime: bool = False,
                 image_readers: int = 2, sources_at_once: int = 1):
        self.prepare = prepare
        self.start_frame, self.end_frame, self.frame_step = start_frame, end_frame, frame_step
        self.realtime = realtime
        self.image_readers = max(1, image_readers)
        self.sources_at_once = max(1, sources_at_once)

    def run(self, sources: list[MediaInput], out: Channel, stop: threading.Event) -> None:
        """Read every source (in the calling thread, plus the pools it starts)."""
        jobs: list[list[MediaInput]] = []
        for source in sources:  # consecutive images form one job, read by the pool in order
            if source.kind == "image" and jobs and jobs[-1][0].kind == "image":
                jobs[-1].append(source)
            else:
                jobs.append([source])
        if self.sources_at_once == 1:
            for job in jobs:
                self._job(job, out, stop)
            return
        pending = iter(jobs)
        lock = threading.Lock()

        def worker() -> None:
            while not stop.is_set():
                with lock:
                    job = next(pending, None)
                if job is None:
                    return
                self._job(job, out, stop)

        with cf.ThreadPoolExecutor(self.sources_at_once, thread_name_prefix="pafpose-source") as pool:
            for future in [pool.submit(worker) for _ in range(self.sources_at_once)]:
                future.result()  # a reader's failure (or Stop) reaches the pipeline

    def _job(self, job: list[MediaInput], out: Channel, stop: threading.Event) -> None:
        if job[0].kind == "image":
            self._images(job, out, stop)
        else:
            self._video(job[0], out)

    def _read_image(self, source: MediaInput) -> Item:
        start = time.perf_counter()
        image = read_image(source.path)
        item = Item(source, 0, None, image, start)
        if self.prepare is not None:
            item.padded = self.prepare(image)
        item.times.read = time.perf_counter() - start
        return item

    def _images(self, sources: list[MediaInput], out: Channel, stop: threading.Event) -> None:
        ahead = 2 * self.image_readers
        with cf.ThreadPoolExecutor(self.image_readers, thread_name_prefix="pafpose-read") as pool:
            futures: collections.deque = collections.deque()
            queue = iter(sources)
            for source in queue:
                futures.append((source, pool.submit(self._read_image, source)))
                if len(futures) >= ahead:
                    break
            while futures:
                if stop.is_set():
                    for _, future in futures:
                        future.cancel()
                    raise Stop
                source, future = futures.popleft()
                following = next(queue, None)
                if following is not None:
                    futures.append((following, pool.submit(self._read_image, following)))
                try:
                    item = future.result()
                except UserError as err:
                    out.put(SourceEnd(source, 0, 0, str(err)))
                    continue
                item.read_at = time.perf_counter() - item.times.read
                out.put(item)
                out.put(SourceEnd(source, 1))

    def _video(self, source: MediaInput, out: Channel) -> None:
        count = dropped = 0
        error = None
        live = source.kind == "stream" or self.realtime
        try:
            reader = VideoReader(source.path, self.start_frame, self.end_frame, self.frame_step)
            fps = reader.info.fps
            started = time.perf_counter()
            frames = iter(reader)
            n = 0
            while True:
                t0 = time.perf_counter()
                frame = next(frames, None)
                if frame is None:
                    break
                index = self.start_frame + n * self.frame_step
                if self.realtime and source.kind != "stream":
                    time.sleep(max(0.0, started + n * self.frame_step / fps - time.perf_counter()))
                    t0 = time.perf_counter()
                item = Item(source, index, index / fps, frame, t0, fps, live)
                if self.prepare is not None:
                    item.padded = self.prepare(frame)
                item.times.read = time.perf_counter() - t0
                if live:
                    dropped += out.put_latest(item)
                else:
                    out.put(item)
                count += 1
                n += 1
            if source.kind == "stream" and str(source.path).isdigit():
                error = f"camera {source.path} stopped delivering frames after {count}"
        except UserError as err:
            error = str(err)
        out.put(SourceEnd(source, count - dropped, dropped, error))

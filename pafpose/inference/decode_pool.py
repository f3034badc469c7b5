"""Executors for the people decoder: in the caller's thread, or in worker processes.

Decoding one frame takes a few milliseconds of single-threaded numpy, so on a machine with more
cores than the network needs, a pool of processes keeps up with a GPU that delivers hundreds of
frames per second. Maps reach the workers through shared memory (:class:`SharedMaps`: a fixed ring
of slots, each reused frame after frame), never as pickled copies; only the slot's name, the
shapes and the resize factors cross the queue, and only the people come back.

Every executor returns :class:`concurrent.futures.Future` objects, so the Runner keeps them in
frame order and hands people on in that order whatever order they finish in. A worker that dies
breaks the pool: the next result raises :class:`DecodeWorkerError` naming it rather than waiting
for an answer that cannot come. :meth:`DecodeExecutor.close` (called on Ctrl-C, SIGTERM and normal
ends alike) stops the workers and unlinks every shared-memory block.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import threading
import weakref
from multiprocessing import shared_memory

import numpy as np

from ..errors import UserError
from .decoding import PeopleDecoder

__all__ = ["DecodeExecutor", "InlineDecoder", "ProcessDecoder", "DecodeWorkerError",
           "make_decode_executor", "default_decode_workers"]


class DecodeWorkerError(RuntimeError):
    """A decode worker process died (killed, out of memory, crashed)."""


class DecodeExecutor:
    """``submit(heatmaps, pafs, resize) -> Future[(people, seconds)]``; ``slots`` futures may be
    pending at once (the caller waits for the oldest before submitting more)."""

    slots = 1
    workers = 0

    def submit(self, heatmaps: np.ndarray, pafs: np.ndarray, resize) -> cf.Future:
        raise NotImplementedError

    def ready(self, timeout: float = 60.0) -> None:
        """Wait until every worker can decode (a live source's first frames should not queue
        behind worker start-up)."""

    def close(self) -> None:
        pass


class InlineDecoder(DecodeExecutor):
    """Decodes in the calling thread (the futures are done when returned)."""

    def __init__(self, decoder: PeopleDecoder):
        self.decoder = decoder

    def submit(self, heatmaps, pafs, resize) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(self.decoder.timed(heatmaps, pafs, resize))
        except BaseException as err:  # noqa: BLE001 - the caller sees it through the future
            future.set_exception(err)
        return future


class SharedMaps:
    """A ring of shared-memory slots, each holding one frame's heatmaps then PAFs (float32).

    A slot grows (a new block replaces it) when a frame's maps do not fit; :meth:`close` unlinks
    them all. Owned by the parent process; workers only attach.
    """

    def __init__(self, count: int):
        self.blocks: list[shared_memory.SharedMemory | None] = [None] * count
        self.free = list(range(count))
        self.lock = threading.Lock()
        # Unlinked even if the owner is never closed (an abandoned generator, an exception).
        self._finalizer = weakref.finalize(self, SharedMaps._unlink_all, self.blocks)

    def put(self, slot: int, heatmaps: np.ndarray, pafs: np.ndarray) -> str:
        """Copy the maps into ``slot``; returns the block's name."""
        need = heatmaps.nbytes + pafs.nbytes
        block = self.blocks[slot]
        if block is None or block.size < need:
            if block is not None:
                SharedMaps._unlink(block)
            block = self.blocks[slot] = shared_memory.SharedMemory(create=True, size=max(need, 1 << 16))
        view = np.ndarray(need // 4, np.float32, block.buf)
        view[:heatmaps.size] = heatmaps.ravel()
        view[heatmaps.size:heatmaps.size + pafs.size] = pafs.ravel()
        return block.name

    def acquire(self) -> int | None:
        with self.lock:
            return self.free.pop() if self.free else None

    def release(self, slot: int) -> None:
        with self.lock:
            self.free.append(slot)

    @staticmethod
    def _unlink(block: shared_memory.SharedMemory) -> None:
        try:
            block.close()
        except BufferError:  # a view still exported: the unlink below frees the name anyway
            pass
        try:
            block.unlink()
        except FileNotFoundError:
            pass

    @staticmethod
    def _unlink_all(blocks: list) -> None:
        for index, block in enumerate(blocks):
            if block is not None:
                SharedMaps._unlink(block)
                blocks[index] = None

    def close(self) -> None:
        self._finalizer()


# ---- the worker side ------------------------------------------------------------------------

_worker_decoder: PeopleDecoder | None = None
_start_barrier = None  # multiprocessing.Barrier of the pool's workers, for their start-up
_attached: dict[str, shared_memory.SharedMemory] = {}


def _init_worker(decoder: PeopleDecoder, start_barrier) -> None:
    global _worker_decoder, _start_barrier
    _worker_decoder, _start_barrier = decoder, start_barrier
    # The parent pipeline owns the terminal's signals: Ctrl-C reaches it, and it closes the pool.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One thread each: the pool is the parallelism (16 workers x 16 OpenCV threads thrash).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)


def _started() -> int:
    # Held until every worker runs one: the pool starts a process for a submission only while
    # none is idle, so a first worker done early would take the others' start-up calls.
    try:
        _start_barrier.wait(timeout=60)
    except threading.BrokenBarrierError:
        pass  # a worker that could not start: the pool reports it on the next submission
    return os.getpid()


def _attach(name: str) -> shared_memory.SharedMemory:
    block = _attached.get(name)
    if block is None:
        if len(_attached) > 64:  # slots replaced by bigger ones: forget the old names
            for old in _attached.values():
                old.close()
            _attached.clear()
        # Attaching registers the block with the resource tracker the workers share with the
        # parent (fork server and spawn alike): a no-op, as the parent registered it first, and
        # the parent's unlink unregisters it.
        block = shared_memory.SharedMemory(name=name)
        _attached[name] = block
    return block


def _decode_in_worker(name: str, hm_shape: tuple, pf_shape: tuple, resize):
    block = _attach(name)
    hm_size, pf_size = int(np.prod(hm_shape)), int(np.prod(pf_shape))
    flat = np.ndarray(hm_size + pf_size, np.float32, block.buf)
    heatmaps = flat[:hm_size].reshape(hm_shape)
    pafs = flat[hm_size:].reshape(pf_shape)
    return _worker_decoder.timed(heatmaps, pafs, resize)


class ProcessDecoder(DecodeExecutor):
    """Decodes in ``workers`` processes, the maps handed over through :class:`SharedMaps`."""

    def __init__(self, decoder: PeopleDecoder, workers: int):
        self.workers, self.slots = workers, 2 * workers + 1
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        context = mp.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload([__name__])
        self.maps = SharedMaps(self.slots)
        self.pool = cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                           initargs=(decoder, context.Barrier(workers)))
        # Start every worker now (the pool starts them one submission at a time otherwise), so
        # they import and unpickle the decoder while the network warms up.
        self._starting = [self.pool.submit(_started) for _ in range(workers)]
        self._closed = False

    def ready(self, timeout: float = 60.0) -> None:
        done, _ = cf.wait(self._starting, timeout=timeout)
        for future in done:
            if future.exception() is not None:
                raise DecodeWorkerError(_broken_message(self.pool))

    def submit(self, heatmaps, pafs, resize) -> cf.Future:
        slot = self.maps.acquire()
        if slot is None:
            raise RuntimeError("more frames in flight than decode slots")  # the Runner never does this
        name = self.maps.put(slot, heatmaps, pafs)
        result: cf.Future = cf.Future()
        try:
            inner = self.pool.submit(_decode_in_worker, name, heatmaps.shape, pafs.shape, resize)
        except cf.BrokenExecutor:
            self.maps.release(slot)
            raise DecodeWorkerError(_broken_message(self.pool)) from None

        def done(f: cf.Future) -> None:
            self.maps.release(slot)
            if f.cancelled():
                result.cancel()
            elif isinstance(f.exception(), cf.BrokenExecutor):
                result.set_exception(DecodeWorkerError(_broken_message(self.pool)))
            elif f.exception() is not None:
                result.set_exception(f.exception())
            else:
                result.set_result(f.result())

        inner.add_done_callback(done)
        return result

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Workers may be mid-frame: do not wait for them, stop them, then free the memory.
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
        self.maps.close()


def _broken_message(pool) -> str:
    codes = [p.exitcode for p in (getattr(pool, "_processes", None) or {}).values() if p.exitcode]
    how = f" (exit code {codes[0]})" if codes else ""
    return f"a decode worker process died{how}; the frames it held are lost"


def default_decode_workers(device_type: str, network_threads: int | None = None,
                           cores: int | None = None) -> int:
    """Worker processes by default: the cores the network and the pipeline's own threads leave.

    On a CPU the network takes every core (unless ``network_threads`` says otherwise) and the
    pool would only compete with it: measured on 2 cores, in-process decoding (0) is faster
    (``benchmarks/realtime.py``). On a GPU the host's cores are free: one for reading, one for
    the pipeline, the rest (up to 16) decode.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if device_type == "cuda":
        return max(0, min(16, cores - 2))
    left = cores - (network_threads or cores) - 2
    return max(0, min(16, left))


def make_decode_executor(decoder: PeopleDecoder, workers: int | None, device_type: str = "cpu",
                         network_threads: int | None = None) -> DecodeExecutor:
    """An executor for ``workers`` (None: :func:`default_decode_workers`; 0: in-process)."""
    if workers is None:
        workers = default_decode_workers(device_type, network_threads)
    if workers < 0:
        raise UserError(f"decode workers must be >= 0, got {workers}")
    if workers == 0:
        return InlineDecoder(decoder)
    return ProcessDecoder(decoder, workers)

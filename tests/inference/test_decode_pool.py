"""Decoding in worker processes: frames in order and complete, maps through shared memory that
is always freed, a dead worker reported instead of waited on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from cli_helpers import grey_video

from pafpose.codec.decode import DecodeParams
from pafpose.codec.head import PafCodec
from pafpose.inference.decode_pool import (
    DecodeWorkerError,
    InlineDecoder,
    ProcessDecoder,
    default_decode_workers,
    make_decode_executor,
)
from pafpose.inference.decoding import PeopleDecoder
from pafpose.inference.predict import ImageMaps, NetworkInput
from pafpose.inference.runner import Frame, Runner
from pafpose.inference.stages import StageTimes

CODEC = PafCodec()
DECODER = PeopleDecoder(CODEC.spec, DecodeParams())
MAP_SIZE = (24, 20)  # cells
SAME = NetworkInput(192, 160, 1.0, 1.0)  # how the maps' network input came from the image
HALF = NetworkInput(192, 160, 0.5, 0.5)


def person_maps(shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Maps of one upright person whose keypoints sit ``shift`` input pixels right of x = 40."""
    xy = np.array([[60, 30], [60, 50], [45, 50], [40, 80], [38, 105], [75, 50], [80, 80], [82, 105],
                   [50, 100], [48, 130], [46, 155], [70, 100], [72, 130], [74, 155],
                   [56, 26], [64, 26], [52, 28], [68, 28]], float)
    keypoints = np.concatenate([xy + [shift, 0], np.full((18, 1), 2.0)], 1)[None]
    heatmaps, pafs = CODEC.encode(keypoints, (MAP_SIZE[0] * 8, MAP_SIZE[1] * 8))
    return heatmaps.astype(np.float32), pafs.astype(np.float32)


class ShiftingPredictor:
    """Stands in for a Predictor: frame i's maps hold one person shifted by i pixels (the frame's
    grey level says which frame it is), decoded by the real people decoder."""

    device = torch.device("cpu")
    scales = (1.0,)
    images_per_call = 1

    def __init__(self):
        self.decoder = DECODER
        self.preprocessor = SimpleNamespace(pad=lambda image, resize: image)
        self.maps = {g: person_maps(g / 20) for g in range(0, 250, 20)}

    def resize(self, image_size, scale=1.0):
        return NetworkInput(image_size[0], image_size[1], 1.0, 1.0)

    def image_maps(self, images, padded=None):
        return [ImageMaps(*self.maps[int(im[0, 0, 0]) // 20 * 20], NetworkInput(192, 160, 1.0, 1.0), StageTimes())
                for im in images]


def shm_names(executor: ProcessDecoder) -> list[str]:
    return [block.name for block in executor.maps.blocks if block is not None]


def test_the_decoder_decodes_the_same_in_a_worker_process():
    heatmaps, pafs = person_maps(3.0)
    inline = InlineDecoder(DECODER).submit(heatmaps, pafs, HALF).result()[0]
    pool = ProcessDecoder(DECODER, workers=1)
    try:
        pooled = pool.submit(heatmaps, pafs, HALF).result(timeout=60)[0]
    finally:
        pool.close()
    assert len(inline) == len(pooled) == 1
    np.testing.assert_array_equal(inline[0].keypoints, pooled[0].keypoints)
    assert inline[0].keypoints[1, 0] == pytest.approx((63 + 0.5) / 0.5 - 0.5, abs=2)  # in original pixels


def test_files_keep_every_frame_in_order_through_the_worker_pool(tmp_path):
    clip = grey_video(tmp_path / "clip.avi", 26)  # grey levels 0, 20, ..., 240, 0, ... (frame i)
    runner = Runner(ShiftingPredictor(), decode_workers=2, queue_size=2)
    frames = [e for e in runner.frames([clip, clip]) if isinstance(e, Frame)]
    assert [(f.source.path, f.index) for f in frames] == [(clip, i) for i in range(26)] * 2
    necks = [f.people[0].keypoints[1, 0] for f in frames]
    expected = [60 + (20 * i % 250) // 20 * 20 / 20 for i in range(26)] * 2
    np.testing.assert_allclose(necks, expected, atol=0.3)  # each frame got its own people
    assert runner.stats.parallel["decode"] == 2 and runner.stats.times.decode > 0


def test_every_worker_is_started_before_a_live_source_is_read():
    pool = ProcessDecoder(DECODER, workers=3)
    try:
        pool.ready(timeout=60)
        processes = list(pool.pool._processes.values())
        assert len(processes) == 3 and all(p.is_alive() for p in processes)
        assert len({f.result() for f in pool._starting}) == 3  # one start-up call in each
    finally:
        pool.close()


def test_shared_memory_is_freed_when_the_pool_closes():
    pool = make_decode_executor(DECODER, workers=2)
    heatmaps, pafs = person_maps(0.0)
    futures = [pool.submit(heatmaps, pafs, SAME) for _ in range(3)]
    [f.result(timeout=60) for f in futures]
    names = shm_names(pool)
    assert names and all(Path("/dev/shm", name).exists() for name in names)
    pool.close()
    assert not any(Path("/dev/shm", name).exists() for name in names)


def test_a_killed_worker_is_reported_not_waited_on():
    pool = ProcessDecoder(DECODER, workers=1)
    heatmaps, pafs = person_maps(0.0)
    try:
        pool.submit(heatmaps, pafs, SAME).result(timeout=60)
        names = shm_names(pool)
        for process in list(pool.pool._processes.values()):
            os.kill(process.pid, signal.SIGKILL)
        start = time.perf_counter()
        with pytest.raises(DecodeWorkerError, match="decode worker process died"):
            for _ in range(50):  # the pool notices the death within a call or two
                pool.submit(heatmaps, pafs, SAME).result(timeout=30)
                time.sleep(0.05)
        assert time.perf_counter() - start < 30
    finally:
        pool.close()
    assert not any(Path("/dev/shm", name).exists() for name in names)


SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path[:0] = [{tests!r}, {root!r}]
    from test_decode_pool import ShiftingPredictor
    from pafpose.inference.runner import Runner
    from pafpose.signals import terminate_as_interrupt
    before = set(p.name for p in Path("/dev/shm").glob("psm_*"))
    with terminate_as_interrupt():
        try:
            for n, frame in enumerate(Runner(ShiftingPredictor(), decode_workers=2).frames([{clip!r}] * 50)):
                if n == 3:
                    print(" ".join(sorted(set(p.name for p in Path("/dev/shm").glob("psm_*")) - before)), flush=True)
                time.sleep(0.01)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(143)
""")


def test_sigterm_frees_the_shared_memory_and_stops_the_workers(tmp_path):
    clip = grey_video(tmp_path / "clip.avi", 40)
    script = SCRIPT.format(tests=str(Path(__file__).parent), root=str(Path(__file__).parents[1]), clip=str(clip))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    names = child.stdout.readline().split()
    assert names, child.stderr.read()
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 143, err
    assert "interrupted" in out
    assert not any(Path("/dev/shm", name).exists() for name in names), names
    assert "leaked shared_memory" not in err


def test_default_workers_follow_the_machine():
    assert default_decode_workers("cpu", cores=2) == 0  # the network takes both cores
    assert default_decode_workers("cpu", network_threads=4, cores=16) == 10
    assert default_decode_workers("cuda", cores=16) == 14
    assert default_decode_workers("cuda", cores=2) == 0

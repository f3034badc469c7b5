"""The pipelined Runner: order, bounded queues, live sources, failures; infer over it."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from cli_helpers import TINY_MOBILENET_CONFIG, grey_video, run, tiny_model

from pafpose.errors import UserError
from pafpose.inference.backends import (
    CpuCapabilities,
)
from pafpose.inference.predict import ImageMaps, NetworkInput, Predictor
from pafpose.inference.runner import Frame, Runner, SourceEnd
from pafpose.inference.stages import StageTimes
from pafpose.io.annotations import SAMPLE_DIR
from pafpose.io.media import MediaInput, VideoWriter

torch.set_num_threads(1)
CPU = torch.device("cpu")
NO_BF16 = CpuCapabilities("plain", frozenset({"avx2"}))
BF16 = CpuCapabilities("bf16", frozenset({"avx512_bf16", "avx512_vnni"}))


class FirstPixel:
    """Stands in for the people decoder (picklable, for worker processes): the frame's first
    pixel value as its one "person"."""

    def timed(self, heatmaps, pafs, resize):
        return [float(heatmaps[0, 0, 0])], 0.0


class _CountingPredictor:
    """Stands in for a Predictor: one heatmap value per frame, a network that takes ``delay`` s."""

    device = torch.device("cpu")
    scales = (1.0,)

    def __init__(self, delay: float = 0.0, batch_size: int = 1):
        self.delay = delay
        self.images_per_call = batch_size
        self.calls = 0
        self.decoder = FirstPixel()
        self.preprocessor = SimpleNamespace(pad=lambda image, resize: image)

    def resize(self, image_size, scale=1.0):
        return NetworkInput(image_size[0], image_size[1], 1.0, 1.0)

    def image_maps(self, images, padded=None):
        self.calls += 1
        time.sleep(self.delay)
        return [ImageMaps(np.full((1, 2, 2), im[0, 0, 0], np.float32), np.zeros((2, 2, 2), np.float32),
                          NetworkInput(2, 2, 1.0, 1.0), StageTimes()) for im in images]


def test_files_keep_every_frame_in_order_and_the_queues_stay_bounded(tmp_path):
    clip = grey_video(tmp_path / "clip.avi", 12)
    runner = Runner(_CountingPredictor(), queue_size=2)
    frames = []
    for event in runner.run([clip, clip]):
        if isinstance(event, Frame):
            frames.append(event)
            time.sleep(0.01)  # a slow consumer: the reader must wait, not pile frames up
    assert [f.index for f in frames] == list(range(12)) * 2
    assert [f.people[0] for f in frames[:12]] == [20 * i % 250 for i in range(12)]
    assert runner.stats.frames == 24 and runner.stats.dropped == 0
    assert all(f.time == pytest.approx(f.index / 10.0) for f in frames)


def test_queues_bound_what_is_read_ahead(tmp_path):
    clip = grey_video(tmp_path / "clip.avi", 40)
    runner = Runner(_CountingPredictor(), queue_size=2)
    events = runner.run([clip])
    next(events)
    time.sleep(0.3)  # the consumer stops; the stages fill their queues and wait
    predictor_calls = runner.predictor.calls
    # read_q (2) + network's item + maps_q (2) + decoder's item + people_q (2) + tracker's item
    # + out_q (2) + the yielded one
    assert predictor_calls <= 11, predictor_calls
    events.close()  # closing the iterator stops the threads
    time.sleep(0.3)
    assert not [t for t in threading.enumerate() if t.name.startswith("pafpose-")]


def test_a_live_source_drops_stale_frames_to_keep_latency_bounded(tmp_path):
    clip = grey_video(tmp_path / "clip.avi", 30)
    live = MediaInput(clip, "stream", "camera")
    runner = Runner(_CountingPredictor(delay=0.02), queue_size=2)
    events = list(runner.run([live]))
    frames = [e for e in events if isinstance(e, Frame)]
    end = events[-1]
    assert isinstance(end, SourceEnd) and end.dropped > 0
    assert len(frames) + end.dropped == 30 and end.frames == len(frames)
    indices = [f.index for f in frames]
    assert indices == sorted(indices) and indices[-1] == 29  # the newest frame is never dropped


def test_realtime_plays_a_file_at_its_frame_rate(tmp_path):
    clip = grey_video(tmp_path / "clip.avi", 10)  # 10 fps: 1 s of video
    start = time.perf_counter()
    events = list(Runner(_CountingPredictor(), realtime=True).run([clip]))
    assert time.perf_counter() - start >= 0.85
    assert isinstance(events[-1], SourceEnd) and events[-1].frames + events[-1].dropped == 10


def test_runner_api_on_real_photos_and_agrey_video(tmp_path):
    predictor = Predictor(tiny_model(TINY_MOBILENET_CONFIG), input_height=64)
    photos = sorted(SAMPLE_DIR.glob("*.jpg"))[:2]
    clip = grey_video(tmp_path / "clip.avi", 3)
    runner = Runner(predictor, frame_step=2)
    events = list(runner.run([*photos, clip]))
    kinds = [(type(e).__name__, e.source.kind) for e in events]
    assert kinds == [("Frame", "image"), ("SourceEnd", "image")] * 2 + \
        [("Frame", "video"), ("Frame", "video"), ("SourceEnd", "video")]
    assert [e.index for e in events if isinstance(e, Frame) and e.source.kind == "video"] == [0, 2]
    direct = predictor.predict(cv2.imread(str(photos[0])))
    assert [p.score for p in events[0].people] == [p.score for p in direct]  # same as predict()
    assert len(list(runner.frames(str(photos[0])))) == 1
    with pytest.raises(UserError, match="no such file"):
        list(runner.frames(tmp_path / "missing.jpg"))


def test_a_source_that_fails_is_reported_and_the_rest_go_on(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    good = sorted(SAMPLE_DIR.glob("*.jpg"))[0]
    events = list(Runner(_CountingPredictor()).run([MediaInput(broken, "image", "broken"),
                                                    MediaInput(good, "image", "good")]))
    assert isinstance(events[0], SourceEnd) and "broken.jpg" in events[0].error
    assert isinstance(events[1], Frame) and events[1].source.name == "good"


def test_infer_reports_fps_and_latency(mobilenet_checkpoint, tmp_path):
    clip = grey_video(tmp_path / "clip.avi", 4)
    code, _, err = run("infer", clip, "--weights", mobilenet_checkpoint, "--out", tmp_path / "out",
                       "--backend", "torch", "--precision", "fp32")
    assert code == 0, err
    assert "4 frames in" in err and "fps, latency" in err and "(torch fp32 on cpu)" in err
    # Where the time goes, per stage, and which stage bounds the run.
    assert re.search(r"read [\d.]+, preprocess [\d.]+, network [\d.]+, decode [\d.]+, track [\d.]+, "
                     r"write [\d.]+; bound by (read|preprocess|network|decode|track|write)", err), err
    code, _, err = run("infer", clip, "--weights", mobilenet_checkpoint, "--out", tmp_path / "o2",
                       "--threads", "-1")
    assert code == 2 and "--threads must be >= 1" in err


def test_torchrun_shards_and_merges_and_a_rerun_skips_what_is_done(mobilenet_checkpoint, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, photo in enumerate(sorted(SAMPLE_DIR.glob("*.jpg")) * 2):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), cv2.resize(cv2.imread(str(photo)), (96, 64)))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(29500 + os.getpid() % 1000), "-m", "pafpose.cli", "infer", str(folder),
               "--weights", str(mobilenet_checkpoint), "--backend", "torch", "--out", str(out),
               "--format", "coco", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    images = json.loads((out / "images.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())["inputs"]
    assert sorted(im["file_name"] for im in images) == [f"{i:03d}" for i in range(8)]
    assert len({im["id"] for im in images}) == 8  # one id per image across ranks
    assert sorted(e["input"] for e in manifest) == sorted(str(p) for p in folder.iterdir())
    assert not (out / ".parts").exists()
    results = json.loads((out / "results.json").read_text())
    assert {r["image_id"] for r in results} <= {im["id"] for im in images}

    # The rerun finds everything done: nothing is inferred again and nothing is lost.
    (folder / "008.jpg").write_bytes((folder / "000.jpg").read_bytes())
    done = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    again = json.loads((out / "images.json").read_text())
    assert sorted(im["file_name"] for im in again) == [f"{i:03d}" for i in range(9)]
    assert len(json.loads((out / "manifest.json").read_text())["inputs"]) == 9
    assert len(json.loads((out / "results.json").read_text())) >= len(results)


def test_the_predictor_takes_paths_pil_images_and_rgb_arrays(tmp_path):
    predictor = Predictor(tiny_model(TINY_MOBILENET_CONFIG), input_height=64)
    path = sorted(SAMPLE_DIR.glob("*.jpg"))[0]
    bgr = cv2.imread(str(path))
    expected = [p.keypoints.tolist() for p in predictor.predict(bgr)]
    assert expected  # random biases: the tiny network finds someone
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    inputs = [(path, {}), (str(path), {}), (rgb, {"color": "rgb"})]
    if importlib.util.find_spec("PIL"):  # Pillow is no dependency of pafpose: PIL images where it is
        from PIL import Image

        inputs.append((Image.fromarray(rgb), {}))
    for image, kwargs in inputs:
        assert [p.keypoints.tolist() for p in predictor(image, **kwargs)] == expected, type(image)
    # An RGB array read as BGR gives other maps: the colour order matters and is not guessed.
    assert [p.keypoints.tolist() for p in predictor(rgb)] != expected
    with pytest.raises(UserError, match="color must be"):
        predictor(rgb, color="hsv")
    with pytest.raises(UserError, match="no such file|cannot read|not found"):
        predictor(tmp_path / "missing.jpg")


def test_infer_tracks_people_through_a_clip_and_writes_every_track_output(tmp_path):
    """The bundled network on a real photo panned across 6 frames: ids, tables, PoseTrack, renders."""
    from pafpose.io.tracks import read_posetrack, read_track_table

    photo = cv2.imread(str(sorted(SAMPLE_DIR.glob("*.jpg"))[1]))
    clip = tmp_path / "pan.avi"
    with VideoWriter(clip, 10.0, (320, 240), "MJPG", cv2.CAP_OPENCV_MJPEG) as writer:
        for i in range(6):
            writer.write(cv2.resize(photo[:, 6 * i: 6 * i + 560], (320, 240)))
    out = tmp_path / "out"
    code, _, err = run("infer", clip, "--out", out, "--track", "--smooth", "--tracks", "csv", "--posetrack",
                       "--render", "--render-style", "controlnet", "--quiet", "--input-height", "240")
    assert code == 0, err
    frames = [json.loads(p.read_text())["people"] for p in sorted((out / "pan").glob("*.json"))]
    ids = [sorted(p["person_id"][0] for p in people if p["person_id"][0] >= 0) for people in frames]
    assert len(frames) == 6 and ids[-1], ids
    assert all(len(set(frame)) == len(frame) for frame in ids)  # no duplicate id in a frame
    assert set(ids[-1]) <= set().union(*ids[1:-1])  # the same people keep their ids
    rows = read_track_table(out / "pan_tracks.csv")
    assert len(rows) == sum(len(people) for people in frames)
    posetrack = read_posetrack(out / "pan_posetrack.json")
    assert len(posetrack["images"]) == 6
    manifest = json.loads((out / "manifest.json").read_text())["inputs"][0]
    assert {"pan_tracks.csv", "pan_posetrack.json", "pan/"} <= set(manifest["outputs"])
    rendered = cv2.VideoCapture(str(next(out.glob("pan_rendered.*"))))
    ok, picture = rendered.read()
    assert ok and picture.shape == (240, 320, 3)
    assert np.mean(picture.max(axis=2) < 16) > 0.8  # ControlNet's pose image: skeletons on black
    code, _, err = run("infer", clip, "--out", tmp_path / "o2", "--tracks", "csv")
    assert code == 2 and "need --track" in err

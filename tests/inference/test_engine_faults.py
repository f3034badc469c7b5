"""The engine's reliability: shared predictors, failed sources, unwritable caches, scripts that
stop mid-stream, tiny images, precise error messages, typed settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import cv2
import numpy as np
import pytest
import torch
from cli_helpers import TINY_MOBILENET_CONFIG, grey_video, tiny_model

from pafpose.errors import UserError
from pafpose.inference.backends import CpuCapabilities, choose_precision
from pafpose.inference.backends.cache import ModelCache
from pafpose.inference.backends.networks import TorchNetwork
from pafpose.inference.predict import Predictor
from pafpose.inference.runner import Frame, Runner, SourceEnd, SourceError
from pafpose.inference.settings import InferenceSettings
from pafpose.io.annotations import SAMPLE_DIR
from pafpose.io.checkpoint import save_checkpoint
from pafpose.models import splits_in_two

BF16 = CpuCapabilities("bf16", frozenset({"avx512_bf16", "avx512_vnni"}))


def test_one_predictor_serves_several_threads_and_runners(mobilenet_checkpoint, tmp_path):
    pytest.importorskip("openvino")
    predictor = Predictor(mobilenet_checkpoint, backend="openvino")
    photo = cv2.imread(str(sorted(SAMPLE_DIR.glob("*.jpg"))[0]))
    expected = [p.keypoints.tolist() for p in predictor.predict(photo)]
    results, errors = [], []

    def work() -> None:
        try:
            for _ in range(15):
                results.append([p.keypoints.tolist() for p in predictor.predict(photo)])
        except Exception as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 45 and all(r == expected for r in results)

    clip = grey_video(tmp_path / "clip.avi", 30)
    counts = []

    def run_clip() -> None:
        counts.append(sum(isinstance(e, Frame) for e in Runner(predictor).run([clip])))

    runners = [threading.Thread(target=run_clip) for _ in range(2)]
    for thread in runners:
        thread.start()
    for thread in runners:
        thread.join()
    assert counts == [30, 30]


def test_failed_sources_are_events_and_frames_raises_at_the_end(weights, tmp_path):
    predictor = Predictor(weights, backend="torch", input_height=64)
    photo = sorted(SAMPLE_DIR.glob("*.jpg"))[0]
    missing = tmp_path / "missing.jpg"
    events = list(Runner(predictor).run([photo, missing]))
    ends = [e for e in events if isinstance(e, SourceEnd)]
    assert any(e.error and "missing.jpg" in e.error for e in ends)
    assert sum(isinstance(e, Frame) for e in events) == 1
    frames = []
    with pytest.raises(SourceError, match="missing.jpg"):
        for frame in Runner(predictor).frames([photo, missing]):
            frames.append(frame)
    assert len(frames) == 1  # the good input's frame came out first
    assert len(list(Runner(predictor).frames([photo, missing], errors="skip"))) == 1


def test_an_unwritable_cache_never_stops_inference(mobilenet_checkpoint, tmp_path, capsys):
    pytest.importorskip("openvino")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    predictor = Predictor(mobilenet_checkpoint, cache_dir=blocker / "cache")  # cannot be created
    assert predictor.backend == "openvino"
    # It still sees what the torch backend sees in a real photo (the random network finds several).
    photo = cv2.imread(str(sorted(SAMPLE_DIR.glob("*.jpg"))[0]))
    expected = Predictor(mobilenet_checkpoint, backend="torch").predict(photo)
    people = predictor.predict(photo)
    assert len(people) == len(expected) >= 2
    for got, want in zip(people, expected):
        np.testing.assert_allclose(got.keypoints, want.keypoints, atol=0.5)
    assert "cannot write the model cache" in capsys.readouterr().err
    # A regular file where an entry should be is replaced, not fatal on every run.
    cache = ModelCache(tmp_path / "cache")
    key = {"weights": "x"}
    cache.root.mkdir()
    cache.folder(key).write_text("squatter")
    folder = cache.get_or_build(key, ["m.bin"], lambda f: (f / "m.bin").write_bytes(b"1"))
    assert folder.is_dir() and cache.valid(key, ["m.bin"])


def test_a_script_may_end_while_a_runner_is_suspended(tmp_path):
    """The default (bundled, OpenVINO where installed) predictor aborted the interpreter here."""
    clip = grey_video(tmp_path / "clip.avi", 60)
    script = textwrap.dedent(f"""
        from pafpose.inference.predict import Predictor
        from pafpose.inference.runner import Runner
        frames = Runner(Predictor()).frames([{str(clip)!r}])
        next(frames)
        print("leaving")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "leaving" in done.stdout and "terminate called" not in done.stderr


@pytest.mark.parametrize("size", [(16, 368), (8, 100), (12, 640), (640, 8), (1, 1)])
def test_tiny_images_give_no_people_outside_the_picture(size):
    predictor = Predictor()  # the bundled network
    width, height = size
    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8)
    stride_slack = 8 / min(predictor.resize_factors((width, height)))
    for person in predictor.predict(image):
        found = person.keypoints[person.keypoints[:, 2] > 0]
        assert len(found) >= 3
        assert (found[:, 0] >= -stride_slack).all() and (found[:, 0] <= width + stride_slack).all()
        assert (found[:, 1] >= -stride_slack).all() and (found[:, 1] <= height + stride_slack).all()


def test_precision_errors_blame_what_lacks_it():
    with pytest.raises(UserError) as caught:
        choose_precision("bf16", "onnx", torch.device("cpu"), {}, BF16)
    assert "onnx backend" in str(caught.value) and "instructions" not in str(caught.value)


def test_inference_settings_are_typed_and_checked(tmp_path):
    settings = InferenceSettings.from_entry({"input_height": "320", "decode": {"paf_threshold": 0.05},
                                             "precision_ap": {"openvino-fp32": 0.6}})
    assert settings.input_height == 320 and settings.decode.paf_threshold == 0.05
    assert InferenceSettings.from_entry(settings.to_entry()) == settings
    with pytest.raises(UserError, match="input_hieght"):
        InferenceSettings.from_entry({"input_hieght": 320})
    path = save_checkpoint(tmp_path / "typo.pt", {"model": tiny_model(TINY_MOBILENET_CONFIG).state_dict(),
                                                   "model_config": TINY_MOBILENET_CONFIG,
                                                   "inference": {"decode": {"paf_treshold": 0.1}}})
    with pytest.raises(UserError, match="paf_treshold"):
        Predictor(path, backend="torch")


def test_backends_ask_for_the_split_capability_not_attribute_names():
    class Duck(torch.nn.Module):
        def infer(self, x):
            return x[:, :1].repeat(1, 19, 1, 1)[:, :, ::8, ::8], x[:, :1].repeat(1, 38, 1, 1)[:, :, ::8, ::8]

        def infer_first_stage(self, x):  # a name alone does not make a split network
            raise AssertionError("not called")

    assert splits_in_two(tiny_model(TINY_MOBILENET_CONFIG)) and not splits_in_two(Duck())
    heatmaps, pafs = TorchNetwork(Duck(), torch.device("cpu"), "bf16")(torch.rand(1, 3, 16, 16))
    assert heatmaps.shape == (1, 19, 2, 2) and heatmaps.dtype == torch.float32

"""The everyday CLI and API under real use: odd files, interruptions, two jobs at once, options."""

from __future__ import annotations

import json
import os
import signal
import stat
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from cli_helpers import TINY_CONFIG, grey_video, run, tiny_model
from train_helpers import TINY_MODEL, PoseSamples

from pafpose.cli import build_parser, main
from pafpose.codec.people import Person
from pafpose.config import from_dict, load_config
from pafpose.errors import UserError
from pafpose.inference.predict import Predictor
from pafpose.inference.render import draw_people
from pafpose.io.annotations import SAMPLE_DIR
from pafpose.io.checkpoint import load_checkpoint, save_checkpoint
from pafpose.io.images import read_image
from pafpose.io.media import discover_inputs
from pafpose.io.outputs import lock_folder, write_json
from pafpose.training import TrainConfig, train

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A small real photo."""
    path = tmp_path_factory.mktemp("photo") / "photo.jpg"
    cv2.imwrite(str(path), cv2.resize(cv2.imread(str(sorted(SAMPLE_DIR.glob("*.jpg"))[0])), (120, 90)))
    return path


# -- wrong or lost results ---------------------------------------------------------------------


def _exif_jpeg(image: np.ndarray, orientation: int) -> bytes:
    """A JPEG of ``image`` with an EXIF APP1 segment holding only the orientation tag."""
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    segment = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    return data.tobytes()[:2] + segment + data.tobytes()[2:]


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((40, 80, 3), np.uint8)
    stored[:, :20] = 255  # white band on the left of the stored pixels
    path = tmp_path / "phone.jpg"
    path.write_bytes(_exif_jpeg(stored, 6))  # 6: displayed rotated 90 degrees clockwise
    image = read_image(path)
    assert image.shape == (80, 40, 3)
    assert image[:20].mean() > 200 and image[30:].mean() < 30  # the band is now on top


def _hold_lock(folder: Path) -> subprocess.Popen:
    code = ("import sys; from pathlib import Path; from pafpose.io.outputs import lock_folder\n"
            "with lock_folder(Path(sys.argv[1])):\n    print('locked', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_to_the_same_out_is_refused(weights, photo, tmp_path):
    out = tmp_path / "out"
    other = _hold_lock(out)  # another run, in another process, writing there
    try:
        code, _, err = run("infer", photo, "--weights", weights, "--out", out, "--format", "coco",
                           "--input-height", "64", "--quiet")
        assert code == 2
        assert f"pid {other.pid}" in err and "another --out" in err and len(err.splitlines()) == 1
        assert not (out / "results.json").exists()
    finally:
        other.communicate("")
    # The lock dies with its process; in the same process, a second holder is refused too.
    code, _, err = run("infer", photo, "--weights", weights, "--out", out, "--format", "coco",
                       "--input-height", "64", "--quiet")
    assert code == 0, err
    assert [im["source"] for im in json.loads((out / "images.json").read_text())] == [str(photo)]
    with lock_folder(out), pytest.raises(UserError, match="is writing there"):
        with lock_folder(out):
            pass


def _bn_checkpoint(path: Path, inference: dict | None = None) -> Path:
    from pafpose.models import build_model

    torch.manual_seed(0)
    config = {**TINY_CONFIG, "batch_norm": True}
    model = build_model(config)
    with torch.no_grad():  # running statistics far from a batch's own: train mode would show
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    state = {"model": model.state_dict(), "model_config": config, "train_config": {}, "iteration": 0}
    return save_checkpoint(path, {**state, **({"inference": inference} if inference else {})})


@pytest.mark.requires("onnx")
def test_export_keeps_eval_mode_parity_and_the_recommended_height(tmp_path):
    from pafpose.inference.backends import openvino_installed
    from pafpose.inference.onnx_export import export_onnx
    from pafpose.io.checkpoint import load_model

    checkpoint = _bn_checkpoint(tmp_path / "bn.pt", inference={"input_height": 96})
    code, out, err = run("export", "--weights", checkpoint, "--onnx", tmp_path / "bn.onnx")
    assert code == 0, err
    assert float(out.split("probe: ")[1]) <= 1e-4

    model, _ = load_model(checkpoint)
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    export_onnx(model, tmp_path / "again.onnx", sample_size=(64, 64))
    assert not model.training and not any(m.training for m in model.modules())
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in stats.items())  # BN untouched
    model.train()
    export_onnx(model, tmp_path / "again.onnx", sample_size=(64, 64))
    assert model.training  # handed back as it came

    # The .onnx suffix picks OpenVINO where installed, else onnxruntime (never torch); the
    # checkpoint's input height came along.
    predictor = Predictor(str(tmp_path / "bn.onnx"))
    assert predictor.backend == ("openvino" if openvino_installed() else "onnx")
    assert predictor.input_height == 96
    assert Predictor(str(tmp_path / "bn.onnx"), backend="onnx").backend == "onnx"
    assert Predictor(str(checkpoint)).input_height == 96


def _config(tmp_path: Path, **changes) -> TrainConfig:
    values = {"model": dict(TINY_MODEL), "data": {"crop_size": 64}, "iterations": 6, "batch_size": 2,
              "workers": 0, "checkpoint_every": 3, "keep_every": 3, "log_every": 1, "tensorboard": False,
              "progress": False, "amp": "off", "out_dir": str(tmp_path / "run"), "optim": {"lr": 1e-3}}
    values.update(changes)
    return from_dict(TrainConfig, values)


def test_resume_truncates_the_log_and_removes_dead_runs_temporaries(tmp_path):
    cfg = _config(tmp_path)
    run_dir = Path(cfg.out_dir)
    train(cfg, dataset=PoseSamples(count=8))
    # A run killed mid-save leaves its temporary; a dead pid's goes, a live process's stays.
    stale = run_dir / ".last.pt.4194305.tmp"  # above Linux's largest pid: never running
    live = run_dir / f".last.pt.{os.getppid()}.tmp"
    stale.write_bytes(b"x" * 100)
    live.write_bytes(b"x")
    (run_dir / "metrics.jsonl").open("a").write('{"iteration": 7, "lo')  # cut short by the crash
    train(cfg, dataset=PoseSamples(count=8), resume=run_dir / "iter_0000003.pt")
    iterations = [json.loads(line)["iteration"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert iterations == [1, 2, 3, 4, 5, 6]
    assert not stale.exists() and live.exists()


# -- configs and data -----------------------------------------------------------------------------


def test_yaml_scientific_notation_and_off_are_read_by_field_type(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("optim:\n  lr: 1e-3\n  betas: [0.9, 1e-1]\namp: off\nprogress: off\niterations: 2e3\n")
    cfg = load_config(TrainConfig, path, ["optim.weight_decay=2e-4", "val_input_height=320",
                                          "channels_last=no"])
    assert cfg.optim.lr == 1e-3 and cfg.optim.betas == (0.9, 0.1) and cfg.optim.weight_decay == 2e-4
    assert (cfg.amp, cfg.progress, cfg.iterations, cfg.channels_last) == ("off", False, 2000, False)
    assert cfg.val_input_height == 320
    for bad, message in (("optim.lr=fast", r"optim.lr: expected a number, got 'fast'"),
                         ("iterations=2.5", r"iterations: expected an integer"),
                         ("progress=maybe", r"progress: expected true or false")):
        with pytest.raises(UserError, match=message):
            load_config(TrainConfig, path, [bad])


def test_training_logs_and_prints_skipped_annotations(tmp_path):
    data = PoseSamples(count=4)
    data.skipped_annotations = ["ann.json: annotation id 7 (image a.jpg): 'bbox' [1, 2, 0, 5] has a "
                                "width or height <= 0"]
    result = train(_config(tmp_path, iterations=2), dataset=data)
    assert result.skipped_annotations == data.skipped_annotations
    first = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert first["skipped_annotations"] == 1 and "annotation id 7" in first["skipped_annotation_reasons"][0]


# -- errors and exit codes ------------------------------------------------------------------------


def _unavailable_devices() -> list[str]:
    """Devices this machine lacks: plain "cuda" only without a GPU, an index past the last GPU always."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return [*(["cuda"] if gpus == 0 else []), f"cuda:{max(gpus, 3)}", *([] if mps else ["mps"]), "tpu"]


@pytest.mark.parametrize("device", _unavailable_devices())
def test_unavailable_devices_are_one_line(weights, photo, tmp_path, device):
    for command in (["infer", photo, "--out", tmp_path], ["eval", "--out", tmp_path / "r.json"]):
        code, _, err = run(*command, "--weights", weights, "--device", device)
        assert code == 2 and err.count("\n") == 1 and f"device '{device}'" in err, err


def test_weights_that_are_not_checkpoints_say_what_they_are_not(photo, tmp_path):
    cases = {"jpeg.pt": photo.read_bytes(), "nan.pt": None, "whole.pt": None}
    (tmp_path / "jpeg.pt").write_bytes(cases["jpeg.pt"])
    torch.save(torch.nn.Linear(2, 2), tmp_path / "whole.pt")
    broken = tiny_model().state_dict()
    next(v for v in broken.values() if v.is_floating_point())[0] = float("nan")
    save_checkpoint(tmp_path / "nan.pt", {"model": broken, "model_config": TINY_CONFIG})
    expected = {"jpeg.pt": "not a PyTorch checkpoint file", "whole.pt": "holds pickled Python objects",
                "nan.pt": "contain NaN or infinite values"}
    for name, message in expected.items():
        code, _, err = run("infer", photo, photo, "--weights", tmp_path / name, "--out", tmp_path / "out")
        assert code == 2 and message in err and err.count(name) == 1 and err.count("\n") == 1, err
    code, _, err = run("convert", tmp_path / "whole.pt", "--out", tmp_path / "c.pt")
    assert code == 2 and err.count("\n") == 1 and "holds pickled Python objects" in err, err


def test_weight_mismatch_is_summarised(tmp_path):
    state = tiny_model().state_dict()
    config = {**TINY_CONFIG, "paf_stages": 3}  # one stage more than the weights have
    save_checkpoint(tmp_path / "w.pt", {"model": state, "model_config": config})
    with pytest.raises(UserError) as info:
        Predictor(str(tmp_path / "w.pt"))
    message = str(info.value)
    assert len(message) < 500 and "missing:" in message and "more" in message


def test_api_misuse_gets_clear_errors(weights, photo):
    predictor = Predictor(str(weights), input_height=64)
    image = cv2.imread(str(photo))
    with pytest.raises(UserError, match=r"list of images .* use predict\(\)"):
        predictor.predict_batch(image)
    with pytest.raises(UserError, match="is None.*cv2.imread"):
        predictor.predict(cv2.imread(str(photo.with_name("missing.jpg"))))
    assert len(predictor.predict_batch(np.stack([image, image]))) == 2  # an (N, H, W, C) batch


def test_interrupted_training_exits_75(tmp_path, monkeypatch, capsys):
    class Interrupting(PoseSamples):
        calls = 0

        def __getitem__(self, index):
            Interrupting.calls += 1
            if Interrupting.calls == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return super().__getitem__(index)

    monkeypatch.setattr("pafpose.training.loop.build_train_dataset", lambda cfg: Interrupting(count=8))
    code = main(["train", "--config", str(ROOT / "configs" / "tiny.yaml"), "--out", str(tmp_path / "run"),
                 "--iterations", "50", "--no-progress"])
    assert code == 75
    assert "interrupted at iteration 2" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "run" / "last.pt")["iteration"] == 2
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "75  train stopped by Ctrl-C/SIGTERM" in capsys.readouterr().out


# -- outputs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {})
        grey_video(tmp_path / "v.avi", 2)
    finally:
        os.umask(old)
    for name in ("a.json", "v.avi"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask


def test_collisions_nested_out_and_format_none(weights, photo, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    image = cv2.imread(str(photo))
    cv2.imwrite(str(photos / "x.jpg"), image)
    cv2.imwrite(str(photos / "x.png"), image)
    cv2.imwrite(str(photos / "x-1.jpg"), image)  # a real file with the name a counter would give
    cv2.imwrite(str(photos / "x.png.jpg"), image)  # and one with the name the suffix would give
    out = photos / "out"  # inside the input folder
    for _ in range(2):  # the second run must not read the first one's renderings
        code, _, err = run("infer", photos, "--weights", weights, "--out", out, "--render",
                           "--input-height", "64", "--quiet")
        assert code == 0, err
        manifest = json.loads((out / "manifest.json").read_text())["inputs"]
        assert {e["input"]: e["outputs"] for e in manifest} == {
            str(photos / "x.jpg"): ["x_keypoints.json", "x_rendered.jpg"],
            str(photos / "x-1.jpg"): ["x-1_keypoints.json", "x-1_rendered.jpg"],
            str(photos / "x.png.jpg"): ["x.png_keypoints.json", "x.png_rendered.jpg"],
            str(photos / "x.png"): ["x.png-1_keypoints.json", "x.png-1_rendered.jpg"]}
        written = [o for e in manifest for o in e["outputs"]]
        assert len(written) == len(set(written))  # one input, one set of outputs
    code, _, err = run("infer", photos, "--weights", weights, "--out", tmp_path / "o", "--format", "none")
    assert code == 2 and "--render" in err and not (tmp_path / "o").exists()


def test_render_memory_stays_near_one_image_and_opacity():
    image = np.full((3000, 3000, 3), 90, np.uint8)
    kp = np.zeros((18, 3))
    kp[:, :2] = np.random.default_rng(0).uniform(100, 300, (18, 2))
    kp[:, 2] = 0.9
    person = Person(keypoints=kp, score=1.0)
    tracemalloc.start()
    drawn = draw_people(image, [person])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.2 * image.nbytes  # the copy it returns, and little else
    assert (drawn != image).any() and (drawn[400:] == image[400:]).all()
    faint = draw_people(image[:400, :400], [person], opacity=0.3)
    assert 0 < np.abs(faint.astype(int) - 90).max() < np.abs(drawn[:400, :400].astype(int) - 90).max()
    assert (draw_people(image[:400, :400], [person], min_score=0.95) == 90).all()


def test_ctrl_c_during_a_video_render_leaves_no_partialgrey_video(weights, tmp_path, monkeypatch):
    clip = grey_video(tmp_path / "clip.avi", 6)
    calls = []

    image_maps = Predictor.image_maps

    def interrupt_second_batch(self, images, padded=None):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return image_maps(self, images, padded)

    monkeypatch.setattr(Predictor, "image_maps", interrupt_second_batch)
    out = tmp_path / "out"
    code, _, err = run("infer", clip, "--weights", weights, "--out", out, "--render", "--batch-size", "2",
                       "--quiet")
    assert code == 130
    left = sorted(p.name for p in out.iterdir())
    assert not [n for n in left if "clip_rendered" in n or n.endswith(".tmp")], left
    assert (out / "clip" / "clip_000000000001_keypoints.json").exists()  # finished frames kept
    manifest = json.loads((out / "manifest.json").read_text())["inputs"]
    assert manifest == [{"input": str(clip), "kind": "video", "name": "clip", "frames": 2,
                         "outputs": ["clip/"], "error": "interrupted"}]


# -- what OpenPose users expect -----------------------------------------------------------------


def test_frame_range_and_odd_frame_sizes(weights, tmp_path):
    clip = grey_video(tmp_path / "odd.avi", 10, size=(65, 47))
    out = tmp_path / "out"
    code, _, err = run("infer", clip, "--weights", weights, "--out", out, "--render", "--input-height", "64",
                       "--start-frame", "2", "--end-frame", "8", "--frame-step", "3", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (out / "odd").iterdir()) == [
        "odd_000000000002_keypoints.json", "odd_000000000005_keypoints.json"]
    assert "odd frame size 65x47" in err
    rendered = cv2.VideoCapture(str(out / "odd_rendered.avi"))
    ok, frame = rendered.read()
    assert ok and frame.shape == (47, 65, 3)
    # Every 3rd frame of a 10 fps clip: the rendering plays at 10/3 fps (the AVI header rounds
    # it to whole frames per second), at the original speed, not 3x too fast.
    assert rendered.get(cv2.CAP_PROP_FPS) == pytest.approx(10 / 3, abs=0.5)
    # A frame range that selects nothing is one error for the run, not one per video.
    code, _, err = run("infer", clip, clip, "--weights", weights, "--out", tmp_path / "o2",
                       "--start-frame", "5", "--end-frame", "5")
    assert code == 2 and err.count("frame range") == 1 and err.count("\n") == 1, err


def test_streams_and_cameras_are_kept_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs, errors = discover_inputs(["0", "rtsp://cam.local:554/live/cam1?x=1", "http://host/v.mjpg"])
    assert not errors
    assert [(i.kind, i.path, i.name) for i in inputs] == [
        ("stream", "0", "camera0"), ("stream", "rtsp://cam.local:554/live/cam1?x=1", "stream-cam1"),
        ("stream", "http://host/v.mjpg", "stream-v.mjpg")]
    (tmp_path / "0").write_bytes(b"")  # an existing file named 0 is that file
    assert discover_inputs(["0"])[1] == ["0: not an image or video (unknown suffix '')"]


def test_display_without_a_gui_is_one_clear_line(weights, photo, tmp_path):
    try:
        cv2.namedWindow("probe")
        cv2.destroyWindow("probe")
        pytest.skip("this OpenCV has a GUI")
    except cv2.error:
        pass
    code, _, err = run("infer", photo, "--weights", weights, "--out", tmp_path, "--display")
    assert code == 2 and "no GUI backend" in err and err.count("\n") == 1


def test_decoder_options(weights, photo, tmp_path, monkeypatch):
    common = ("--weights", weights, "--input-height", "64", "--quiet")
    code, _, err = run("infer", photo, "--out", tmp_path / "a", "--peak-threshold", "2", *common)
    assert code == 0, err  # no heatmap value reaches 2: nobody found
    assert json.loads((tmp_path / "a" / "photo_keypoints.json").read_text())["people"] == []
    seen = {}

    def three_people(heatmaps, pafs, head, params):  # whatever the tiny network's maps hold
        seen["params"] = params
        return [Person(keypoints=np.ones((18, 3)), score=s) for s in (3.0, 2.0, 1.0)]

    monkeypatch.setattr("pafpose.inference.decoding.decode", three_people)
    code, _, err = run("infer", photo, "--out", tmp_path / "b", "--max-people", "2",
                       "--paf-threshold", "0.2", *common)
    assert code == 0, err
    assert len(json.loads((tmp_path / "b" / "photo_keypoints.json").read_text())["people"]) == 2
    assert seen["params"].paf_threshold == 0.2


# -- help, synth, dependencies -------------------------------------------------------------------


def test_every_option_has_help_and_iterations_defers_to_the_config():
    commands = build_parser()._subparsers._group_actions[0].choices
    missing = [(name, a.dest) for name, sub in commands.items() for a in sub._actions
               if not a.help and a.dest != "help"]
    assert not missing
    iterations = next(a for a in commands["train"]._actions if a.dest == "iterations")
    assert "200000" not in iterations.help and "config" in iterations.help


def test_synth_refuses_a_dataset_folder_unless_told_to_replace_it(tmp_path):
    out = tmp_path / "synth"
    args = ("synth", "--out", out, "--size", "64x64", "--max-people", "1")
    assert run(*args, "--num-images", "3")[0] == 0
    code, _, err = run(*args, "--num-images", "2")
    assert code == 2 and "--overwrite" in err
    assert run(*args, "--num-images", "2", "--overwrite")[0] == 0
    assert sorted(p.name for p in (out / "images").iterdir()) == ["000000.jpg", "000001.jpg"]


def test_missing_optional_dependencies_name_their_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import fails as if not installed
    with pytest.raises(UserError, match=r"needs tensorboard, .*pip install 'pafpose\[train\]'"):
        train(_config(tmp_path, tensorboard=True, iterations=1), dataset=PoseSamples(count=4))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(UserError, match=r"needs onnxruntime, .*pip install 'pafpose\[onnx\]'"):
        Predictor(str(tmp_path / "model.onnx"))

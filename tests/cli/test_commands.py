"""The inference subcommands end to end: infer, eval, export, convert, and their bad inputs."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from cli_helpers import run

from pafpose.cli import main
from pafpose.inference.evaluate import evaluate_keypoints
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, load_coco
from pafpose.io.media import VideoWriter

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Two real sample images in nested folders and a short video made of one of them."""
    root = tmp_path_factory.mktemp("media")
    images = sorted(SAMPLE_DIR.glob("*.jpg"))[:2]
    (root / "photos" / "more").mkdir(parents=True)
    shutil.copy(images[0], root / "photos" / images[0].name)
    shutil.copy(images[1], root / "photos" / "more" / images[1].name)
    frame = cv2.resize(cv2.imread(str(images[0])), (160, 112))
    with VideoWriter(root / "clip.avi", 10.0, (160, 112)) as writer:
        for i in range(5):
            writer.write(np.roll(frame, 4 * i, axis=1))
    return root


def test_help_text_lists_examples(capsys):
    for command in ("infer", "eval", "export", "convert"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "examples:" in capsys.readouterr().out


def test_infer_openpose_json_and_render(media, tmp_path):
    out = tmp_path / "out"
    # The bundled real-photo network, small: the JSON checks below need people to check.
    code, _, err = run("infer", media / "photos", media / "clip.avi", "--weights", "mobilenet-thin-coco",
                       "--out", out, "--render", "--input-height", "128", "--batch-size", "2")
    assert code == 0, err
    stems = sorted(p.stem for p in SAMPLE_DIR.glob("*.jpg"))[:2]
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert f"{stems[0]}_keypoints.json" in files and f"more/{stems[1]}_keypoints.json" in files
    assert f"{stems[0]}_rendered.jpg" in files and "clip_rendered.mp4" in files
    frames = sorted(f for f in files if f.startswith("clip/"))
    assert frames == [f"clip/clip_{i:012d}_keypoints.json" for i in range(5)]
    people = {}
    for name in files:
        if name.endswith("_keypoints.json"):
            doc = json.loads((out / name).read_text())
            assert doc["version"] == 1.3 and isinstance(doc["people"], list)
            people[name] = [len(person["pose_keypoints_2d"]) for person in doc["people"]]
    assert people[f"{stems[0]}_keypoints.json"] and people[f"more/{stems[1]}_keypoints.json"]
    assert {n for found in people.values() for n in found} == {54}
    rendered = cv2.VideoCapture(str(out / "clip_rendered.mp4"))
    count = 0
    while rendered.read()[0]:
        count += 1
    assert count == 5
    assert not [f for f in files if ".tmp" in f]
    assert "frame" in err and "img" in err  # progress bars for the video and the images
    manifest = {e["input"]: e for e in json.loads((out / "manifest.json").read_text())["inputs"]}
    assert manifest[str(media / "clip.avi")]["outputs"] == ["clip_rendered.mp4", "clip/"]
    assert manifest[str(media / "photos" / "more" / f"{stems[1]}.jpg")]["outputs"] == [
        f"more/{stems[1]}_keypoints.json", f"more/{stems[1]}_rendered.jpg"]


def test_infer_coco_format_loads_in_pycocotools(tmp_path):
    # The bundled COCO-trained default weights on the bundled COCO photos: the annotated people are
    # there to be found, so the checks below are about real detections.
    code, _, err = run("infer", SAMPLE_DIR, "--out", tmp_path, "--format", "coco", "--quiet")
    assert code == 0, err
    results = json.loads((tmp_path / "results.json").read_text())
    images = json.loads((tmp_path / "images.json").read_text())
    coco = load_coco(SAMPLE_ANNOTATIONS)
    # COCO file names are numbers: those become the image ids, so results match the annotations.
    assert {im["id"] for im in images} == set(coco.getImgIds())
    sizes = {i: (info["width"], info["height"]) for i, info in coco.imgs.items()}
    annotated = {a["image_id"] for a in coco.loadAnns(coco.getAnnIds()) if a["num_keypoints"] > 0}
    # Somebody is found in every photo that has an annotated person.
    assert annotated <= {r["image_id"] for r in results}
    for r in results:
        assert set(r) == {"image_id", "category_id", "keypoints", "score"}
        assert r["image_id"] in sizes and r["category_id"] == 1
        assert isinstance(r["score"], float) and np.isfinite(r["score"]) and r["score"] > 0
        kp = np.asarray(r["keypoints"], dtype=float).reshape(17, 3)  # raises unless 51 numbers
        found = kp[:, 2] > 0
        assert set(kp[:, 2].tolist()) <= {0.0, 1.0} and found.sum() >= 3
        assert (kp[~found, :2] == 0).all()  # missing keypoints are written as (0, 0, 0)
        w, h = sizes[r["image_id"]]
        # In original-image pixels (not network-input or map cells).
        assert ((kp[found, 0] >= 0) & (kp[found, 0] <= w) & (kp[found, 1] >= 0) & (kp[found, 1] <= h)).all()
    # pycocotools accepts the file, and the keypoints are the annotated people's in COCO-17
    # order and original pixels: a wrong keypoint order, frame or image id collapses the AP
    # (the README reports 0.65 for these photos at the default settings).
    with contextlib.redirect_stdout(io.StringIO()):
        coco.loadRes(results)
    assert evaluate_keypoints(coco, results)["AP"] > 0.5


def test_bad_inputs_are_reported_before_loading_weights(tmp_path):
    code, _, err = run("infer", tmp_path / "nope.jpg", "--weights", tmp_path / "missing.pt",
                       "--out", tmp_path / "out")
    assert code == 2
    assert "nope.jpg" in err and "missing.pt" not in err and len(err.strip().splitlines()) == 1


def test_missing_or_wrong_weights_name_the_file(media, tmp_path):
    code, _, err = run("infer", media / "photos", "--weights", tmp_path / "missing.pt", "--out", tmp_path)
    assert code == 2 and "missing.pt" in err and len(err.strip().splitlines()) == 1
    bogus = tmp_path / "bogus.pt"
    torch.save({"model": {"conv.weight": torch.zeros(1)}, "model_config": {}}, bogus)
    code, _, err = run("infer", media / "photos", "--weights", bogus, "--out", tmp_path)
    assert code == 2 and "bogus.pt" in err and len(err.strip().splitlines()) == 1


def test_batch_carries_on_past_bad_inputs(weights, media, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corrupt.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    (bad / "empty.mp4").write_bytes(b"")
    gray = cv2.cvtColor(cv2.imread(str(next(SAMPLE_DIR.glob("*.jpg")))), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(bad / "gray.png"), gray)
    cv2.imwrite(str(bad / "deep.png"), (gray.astype(np.uint16) * 257))
    out = tmp_path / "out"
    code, _, err = run("infer", bad, media / "photos", tmp_path / "missing.png", "--weights", weights,
                       "--out", out, "--input-height", "64", "--quiet")
    assert code == 1
    summary = err[err.index("3 input(s) failed"):]
    for name in ("corrupt.jpg", "empty.mp4", "missing.png"):
        assert name in summary
    written = {p.name for p in out.rglob("*_keypoints.json")}
    assert {"gray_keypoints.json", "deep_keypoints.json"} <= written
    assert len(written) == 4  # the two good photos too
    failed = [e for e in json.loads((out / "manifest.json").read_text())["inputs"] if "error" in e]
    assert sorted(Path(e["input"]).name for e in failed) == ["corrupt.jpg", "empty.mp4"]


def test_eval_prints_the_coco_table(weights, tmp_path):
    results = tmp_path / "results.json"
    code, out, err = run("eval", "--weights", weights, "--images", SAMPLE_DIR, "--annotations",
                         SAMPLE_ANNOTATIONS, "--out", results, "--input-height", "96", "--flip",
                         "--scales", "1", "0.5", "--quiet")
    assert code == 0, err
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ]" in out
    assert out.count("Average Recall") == 5
    # The table is pycocotools' evaluation of exactly the results written (the tiny random network
    # finds a few "people" per photo, so there are results to check).
    written = json.loads(results.read_text())
    coco = load_coco(SAMPLE_ANNOTATIONS)
    assert written and {r["image_id"] for r in written} <= set(coco.getImgIds())
    assert all(r["category_id"] == 1 and len(r["keypoints"]) == 51 for r in written)
    printed = float(out.split("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = ")[1][:6])
    assert printed == pytest.approx(evaluate_keypoints(coco, written)["AP"], abs=1e-3)


def test_eval_bad_annotations(weights, tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    code, _, err = run("eval", "--weights", weights, "--images", SAMPLE_DIR,
                       "--annotations", tmp_path / "broken.json")
    assert code == 2 and "broken.json" in err


@pytest.mark.requires("onnx")
def test_export_then_infer_with_onnx_backend(weights, media, tmp_path):
    onnx_path = tmp_path / "tiny.onnx"
    code, out, err = run("export", "--weights", weights, "--onnx", onnx_path)
    assert code == 0, err
    error = float(out.strip().split()[-1])
    assert error < 1e-4
    code, _, err = run("infer", media / "photos", "--weights", onnx_path, "--backend", "onnx",
                       "--out", tmp_path / "out", "--input-height", "96", "--quiet")
    assert code == 0, err
    assert len(list((tmp_path / "out").rglob("*_keypoints.json"))) == 2


def test_truncated_video_keeps_the_frames_read(weights, tmp_path):
    frame = cv2.resize(cv2.imread(str(next(SAMPLE_DIR.glob("*.jpg")))), (96, 64))
    with VideoWriter(tmp_path / "long.avi", 10.0, (96, 64)) as writer:
        for i in range(40):
            writer.write(np.roll(frame, 2 * i, axis=1))
    data = (tmp_path / "long.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    code, _, err = run("infer", tmp_path / "cut.avi", "--weights", weights, "--out", out,
                       "--input-height", "64", "--batch-size", "3", "--render", "--quiet")
    assert code == 1 and "cut.avi" in err and "truncated" in err
    written = sorted((out / "cut").glob("*_keypoints.json"))
    assert 10 < len(written) < 40
    assert written[-1].name == f"cut_{len(written) - 1:012d}_keypoints.json"
    assert (out / "cut_rendered.mp4").is_file()

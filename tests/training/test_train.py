"""Training: overfitting, exact resume, signals, divergence, DDP over two processes, the CLI."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from cli_helpers import child_env
from train_helpers import TINY_MODEL, PoseSamples, tiny_config

from pafpose.config import from_dict, load_config
from pafpose.errors import UserError
from pafpose.io.checkpoint import load_checkpoint
from pafpose.models import build_model
from pafpose.training import NonFiniteLoss, TrainConfig, train
from pafpose.training.loss import pose_loss

torch.set_num_threads(1)
HERE = Path(__file__).resolve().parent
TESTS = HERE.parent  # the helper modules (train_helpers) the torchrun worker imports
ROOT = TESTS.parent


def _config(tmp_path: Path, **changes) -> TrainConfig:
    values = {"model": dict(TINY_MODEL), "data": {"crop_size": 64}, "iterations": 6, "batch_size": 2,
              "workers": 0, "checkpoint_every": 3, "keep_every": 3, "tensorboard": False,
              "progress": False, "amp": "off", "out_dir": str(tmp_path / "run"), "optim": {"lr": 1e-3}}
    values.update(changes)
    return from_dict(TrainConfig, values)


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_small_model_overfits_one_batch():
    torch.manual_seed(0)
    data = PoseSamples(count=2)
    batch = {k: torch.stack([data[i][k] for i in range(2)]) for k in ("image", "heatmaps", "pafs", "mask")}
    model = build_model(tiny_config(stage_channels=32, first_stage_channels=32))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    start = time.perf_counter()
    losses = []
    # A step budget, not a wall clock: the run is seeded and single-threaded, so it takes the same
    # steps on a loaded CI machine (140 today) as on an idle one.
    for _ in range(400):
        pafs, heatmaps = model(batch["image"])
        loss = pose_loss(pafs, heatmaps, batch["pafs"], batch["heatmaps"], batch["mask"]).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if losses[-1] <= losses[0] / 10:
            break
    print(f"overfit: {losses[0]:.2f} -> {losses[-1]:.3f} in {len(losses)} steps, "
          f"{time.perf_counter() - start:.1f} s")
    assert losses[-1] <= losses[0] / 10, f"loss only fell {losses[0]:.3f} -> {min(losses):.3f} in 400 steps"
    # Not just the background: the keypoint and PAF maps are fitted too.
    with torch.no_grad():
        heat, paf = model.infer(batch["image"])
    keypoint_error = ((heat[:, :-1] - batch["heatmaps"][:, :-1]) ** 2 * batch["mask"]).sum()
    keypoint_energy = (batch["heatmaps"][:, :-1] ** 2 * batch["mask"]).sum()
    assert keypoint_error < 0.5 * keypoint_energy


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    data = PoseSamples(count=8)  # 4 batches per epoch: resume at 3 is mid-epoch, 6 crosses epochs
    mining = {"hnm_ratio": 2.0, "rnm_ratio": 1.0}  # random negatives: the global RNG must resume too
    straight = train(_config(tmp_path / "a", loss=mining), dataset=data)
    assert straight.iteration == 6 and not straight.interrupted
    middle = tmp_path / "a" / "run" / "iter_0000003.pt"
    assert load_checkpoint(middle)["iteration"] == 3
    # Resume elsewhere, with data-loader worker processes this time: samples' augmentation is
    # seeded per sample, so where they are loaded must not matter.
    resumed = train(_config(tmp_path / "b", workers=2, loss=mining), dataset=data, resume=middle)
    assert resumed.iteration == 6
    assert _same_weights(straight.model.state_dict(), resumed.model.state_dict())
    final_a = load_checkpoint(tmp_path / "a" / "run" / "last.pt")
    final_b = load_checkpoint(tmp_path / "b" / "run" / "last.pt")
    assert final_a["optimizer"]["state"][0]["step"] == final_b["optimizer"]["state"][0]["step"] == 6
    assert _same_weights(final_a["model"], final_b["model"])
    assert final_b["train_config"]["model"]["paf_stages"] == 2
    assert final_b["data"] == {"epoch": 1, "batch": 2, "world_size": 1, "batch_size": 2}


class _Interrupting(PoseSamples):
    """Sends this process SIGINT while loading the ``at``-th item (workers=0: the main process)."""

    def __init__(self, at: int):
        super().__init__(count=8)
        self.calls, self.at = 0, at

    def __getitem__(self, index):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return super().__getitem__(index)


def test_sigint_saves_a_checkpoint_and_stops_cleanly(tmp_path):
    cfg = _config(tmp_path, iterations=50, checkpoint_every=100, keep_every=0)
    result = train(cfg, dataset=_Interrupting(at=5))  # during the 3rd batch
    assert result.interrupted and result.iteration == 3
    assert load_checkpoint(result.checkpoint)["iteration"] == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


class _Diverging(PoseSamples):
    """Images turn NaN after ``good`` items."""

    def __init__(self, good: int):
        super().__init__(count=8)
        self.calls, self.good = 0, good

    def __getitem__(self, index):
        item = super().__getitem__(index)
        self.calls += 1
        if self.calls > self.good:
            item["image"][:] = float("nan")
        return item


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = _config(tmp_path, iterations=20, checkpoint_every=2, keep_every=0)
    with pytest.raises(NonFiniteLoss, match=r"iteration 4; .*last.pt \(iteration 2\)"):
        train(cfg, dataset=_Diverging(good=6))  # batches 1-3 fine; the 4th is NaN
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["iteration"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values())


@pytest.mark.parametrize("device", ["auto", "cuda"])
def test_a_rank_without_a_gpu_of_its_own_is_one_line(monkeypatch, device):
    """torchrun --nproc_per_node=2 on a one-GPU node: rank 1 would ask for cuda:1 (a CUDA error
    several frames deep), and two ranks on one GPU are refused by NCCL, so it is a UserError."""
    from pafpose.training.distributed import setup_process

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: pytest.fail(f"set_device({device})"))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(UserError, match=r"LOCAL_RANK 1 has no GPU of its own: this process sees 1 CUDA "
                                        r"device\(s\).*--nproc_per_node.*--device cpu"):
        setup_process(device)


@pytest.mark.slow  # two torchrun processes of a real training run: about 8 s
def test_two_process_torchrun_ranks_end_identical(tmp_path):
    # One GPU per rank (NCCL) where there are two; else both ranks on the CPU (gloo): NCCL refuses
    # two ranks on one GPU, so a one-GPU machine tests the CPU path.
    device = "auto" if torch.cuda.is_available() and torch.cuda.device_count() >= 2 else "cpu"
    env = child_env(TESTS, ROOT, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(HERE / "train_ddp_worker.py"), str(tmp_path), device]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", map_location="cpu") for r in (0, 1))
    assert _same_weights(rank0, rank1)
    initial = build_model(tiny_config())  # the same seed-0 init as rank 0: training changed it
    assert not _same_weights(initial.state_dict(), rank0)
    checkpoint = load_checkpoint(tmp_path / "run" / "last.pt")
    assert checkpoint["iteration"] == 3 and len(checkpoint["rng"]) == 2
    assert _same_weights(checkpoint["model"], rank0)


def test_unknown_config_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  paf_stages: 2\n  widht: 3\n")
    with pytest.raises(UserError, match=r"bad.yaml: unknown key 'model.widht'"):
        load_config(TrainConfig, path)
    with pytest.raises(UserError, match=r"unknown key 'optim.learning_rate'"):
        load_config(TrainConfig, None, ["optim.learning_rate=0.1"])
    cfg = load_config(TrainConfig, ROOT / "configs" / "coco.yaml")
    assert (cfg.iterations, cfg.optim.lr, cfg.optim.lr_step, cfg.optim.lr_gamma) == (200_000, 1e-4, 20_000, 0.5)
    assert (cfg.model.paf_stages, cfg.model.heatmap_stages, cfg.optim.weight_decay) == (5, 1, 5e-4)


def test_train_cli_on_synthetic_coco_then_resume(tmp_path, capsys):
    from pafpose.cli import main
    from pafpose.data.synth import generate_dataset

    # TensorBoard logs where pafpose[train] is installed; the rest of the run is checked without.
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    generate_dataset(tmp_path / "synth", num_images=8, max_people=3, seed=0, image_size=(256, 256))
    args = ["train", "--config", str(ROOT / "configs" / "tiny.yaml"), "--annotations",
            str(tmp_path / "synth" / "annotations.json"), "--out", str(tmp_path / "run"),
            "--iterations", "2", "--no-progress", "--set", f"tensorboard={str(tensorboard).lower()}",
            "--set", "image_every=2",
            "--val-annotations", str(tmp_path / "synth" / "annotations.json"), "--set", "val_every=2",
            "--set", "val_max_images=2"]
    assert main(args) == 0
    assert "val AP" in capsys.readouterr().out  # validation ran through Predictor + COCOeval
    assert load_checkpoint(tmp_path / "run" / "last.pt")["iteration"] == 2
    assert bool(list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))) == tensorboard
    assert main(args) == 2  # refuses to overwrite a run without --resume
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "run" / "last.pt"), "--iterations", "3",
                 "--no-progress"]) == 0
    assert load_checkpoint(tmp_path / "run" / "last.pt")["iteration"] == 3

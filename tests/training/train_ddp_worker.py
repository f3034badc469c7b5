"""Run by test_train under torchrun: a few DDP steps, then each rank saves its final weights.

Arguments: the output folder, and the training device ("cpu", or "auto": each rank's own GPU).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from train_helpers import TINY_MODEL, PoseSamples

from pafpose.config import from_dict
from pafpose.training import TrainConfig, train

if __name__ == "__main__":
    out = Path(sys.argv[1])
    device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
    torch.set_num_threads(1)
    cfg = from_dict(TrainConfig, {"model": dict(TINY_MODEL), "data": {"crop_size": 64},
                                  "iterations": 3, "batch_size": 2, "workers": 0, "checkpoint_every": 3,
                                  "keep_every": 0, "tensorboard": False, "progress": False, "amp": "off",
                                  "out_dir": str(out / "run"), "optim": {"lr": 1e-3},
                                  "device": device})
    # Each rank seeds differently (seed + rank): identical final weights prove DDP synchronised them.
    result = train(cfg, dataset=PoseSamples(count=8))
    rank = int(os.environ["RANK"])
    torch.save(result.model.state_dict(), out / f"rank{rank}.pt")

"""Training throughput: (b) images/s of a training step on CPU, (c) on a GPU when there is one.

(b) CPU, fp32, random 368x368 inputs and targets of the real shapes: the CVPR-2017 network
    (CMU's architecture, the baseline every ratio is against), the default TPAMI network, and the
    compact ``configs/small.yaml`` network; contiguous vs channels_last for the default.
(c) CUDA (skipped without one): the default network at 368, fp32 vs AMP (bf16 where supported,
    else fp16) + channels_last, batch 10; then the real pipeline (``pafpose synth`` 640x480
    scenes through CocoPoseDataset and the trainer's seeded loader) to measure the fraction of step
    time spent waiting for data.

A step is forward + loss + backward + Adam update, as in :mod:`pafpose.training.loop`. Each figure is the
median of ``--repeats`` timed steps after a warm-up (min in brackets); the machine may be shared,
so look at ratios measured in the same run.

    .venv/bin/python benchmarks/train.py              # CPU part; GPU part when CUDA is present
    .venv/bin/python benchmarks/train.py --quick      # fewer repeats
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pafpose.config import load_config  # noqa: E402
from pafpose.models import ModelConfig, build_model  # noqa: E402
from pafpose.training import TrainConfig  # noqa: E402
from pafpose.training.loss import pose_loss  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_rate(cfg: ModelConfig, device: torch.device, batch: int, size: int, repeats: int,
              amp: torch.dtype | None = None, channels_last: bool = False) -> tuple[float, float]:
    """(median, best) images/s of full training steps on random data."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(cfg).to(device=device, memory_format=fmt).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    h = -(-size // 8)
    images = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    pafs_t = torch.rand(batch, cfg.head.num_pafs, h, h, device=device) * 2 - 1
    heat_t = torch.rand(batch, cfg.head.num_heatmaps, h, h, device=device)
    mask = torch.ones(batch, 1, h, h, device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            pafs, heatmaps = model(images)
        loss = pose_loss(pafs, heatmaps, pafs_t, heat_t, mask).total
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(2 if device.type == "cuda" else 1):
        step()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times), batch / min(times)


def cpu_part(repeats: int) -> None:
    device = torch.device("cpu")
    small = load_config(TrainConfig, ROOT / "configs" / "small.yaml").model
    print(f"(b) CPU training step, 368x368, fp32, {torch.get_num_threads()} threads, "
          f"median [best] of {repeats}")
    rows = [("cvpr2017 (CMU layout), batch 2", ModelConfig(arch="cvpr2017"), 2, False),
            ("tpami default, batch 2", ModelConfig(), 2, False),
            ("tpami default, batch 2, channels_last", ModelConfig(), 2, True),
            ("small.yaml, batch 8", small, 8, False)]
    baseline = None
    for name, cfg, batch, channels_last in rows:
        median, best = step_rate(cfg, device, batch, 368, repeats, channels_last=channels_last)
        baseline = baseline or median
        print(f"  {name:40s} {median:7.3f} [{best:7.3f}] images/s   x{median / baseline:5.2f} vs cvpr2017",
              flush=True)
    cfg = load_config(TrainConfig, ROOT / "configs" / "small.yaml", ["workers=1", "batch_size=4"])
    wait, rate = data_wait_fraction(device, cfg, repeats, None, False)
    print(f"  small.yaml, batch 4, real pipeline (synth 640x480, 1 worker): {rate:.3f} images/s, "
          f"{100 * wait:.1f}% of step time waiting for data")


def data_wait_fraction(device: torch.device, cfg: TrainConfig, steps: int, amp, channels_last) -> tuple[float, float]:
    """(fraction of step time blocked on the loader, images/s) training on synthetic COCO scenes."""
    from pafpose.data import CocoPoseDataset
    from pafpose.data.synth import generate_dataset
    from pafpose.training.sampling import build_train_loader

    with tempfile.TemporaryDirectory() as tmp:
        generate_dataset(tmp, num_images=64, max_people=5, seed=0, image_size=(640, 480))
        dataset = CocoPoseDataset(Path(tmp) / "images", Path(tmp) / "annotations.json", cfg.data)
        loader = build_train_loader(dataset, cfg.batch_size, cfg.workers, seed=0,
                                    pin_memory=device.type == "cuda")
        sampler = loader.sampler
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = build_model(cfg.model).to(device=device, memory_format=fmt).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)

        def batches():
            epoch = 0
            while True:
                sampler.set_position(epoch, 0)
                yield from loader
                epoch += 1

        stream = batches()
        waited = total = 0.0
        images = 0
        for i in range(steps + 2):
            start = time.perf_counter()
            batch = next(stream)
            x = batch["image"].to(device, non_blocking=True).contiguous(memory_format=fmt)
            targets = [batch[k].to(device, non_blocking=True) for k in ("pafs", "heatmaps", "mask")]
            _sync(device)
            got = time.perf_counter()
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                pafs, heatmaps = model(x)
            loss = pose_loss(pafs, heatmaps, *targets).total
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            _sync(device)
            if i >= 2:  # the first batches include worker start-up
                waited += got - start
                total += time.perf_counter() - start
                images += x.shape[0]
    return waited / total, images / total


def gpu_part(repeats: int, workers: int) -> None:
    if not torch.cuda.is_available():
        print("(c) GPU: skipped, no CUDA device on this machine")
        return
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    print(f"(c) {torch.cuda.get_device_name(device)}, default tpami at 368x368, batch 10")
    fp32, _ = step_rate(ModelConfig(), device, 10, 368, repeats)
    print(f"  fp32, contiguous               {fp32:8.1f} images/s   x1.00")
    fast, _ = step_rate(ModelConfig(), device, 10, 368, repeats, amp=amp, channels_last=True)
    print(f"  {str(amp).removeprefix('torch.')} autocast + channels_last  {fast:8.1f} images/s   x{fast / fp32:.2f}")
    cfg = load_config(TrainConfig, ROOT / "configs" / "coco.yaml", [f"workers={workers}"])
    wait, rate = data_wait_fraction(device, cfg, max(repeats, 20), amp, True)
    print(f"  real pipeline, {workers} workers: {rate:.1f} images/s, {100 * wait:.1f}% of step time waiting for data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 timed steps per row instead of 5")
    parser.add_argument("--workers", type=int, default=8, help="data-loader workers for the GPU data-wait run")
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    if not args.skip_cpu:
        cpu_part(repeats)
    gpu_part(max(repeats, 10), args.workers)


if __name__ == "__main__":
    main()

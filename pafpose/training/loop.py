"""Training: one process per device, from a laptop CPU to ``torchrun`` over many GPU nodes.

Schedule (defaults, the paper's): Adam (lr 1e-4, weight decay 5e-4), lr x 0.5 every 20k
iterations, 200k iterations, ``batch_size`` images per process per iteration. On CUDA the forward
runs under autocast (bf16 where supported, else fp16 with a GradScaler) on channels_last tensors.

Distributed: under ``torchrun`` (WORLD_SIZE > 1) every process joins a process group (nccl on
CUDA, gloo on CPU), wraps the model in DistributedDataParallel and reads its shard of each epoch
through a DistributedSampler.

Exact resume. A checkpoint holds the model, optimizer, scheduler, scaler, every rank's RNG
states, the iteration and the data position. The data order is a function of (seed, epoch)
(DistributedSampler) and each sample's augmentation is drawn from a generator seeded by
(seed, epoch, index) (:class:`SeededSamples`), so which worker process loads a sample, and
where in an epoch a run (re)starts, change nothing: resuming at iteration k and training to n
gives the same weights as training to n directly (bit-exact on CPU; on GPU up to cuDNN's
non-deterministic kernels).

Robustness: checkpoints are written atomically every ``checkpoint_every`` iterations (``last.pt``
plus a kept copy every ``keep_every``); SIGINT/SIGTERM finish the current step, save and exit
cleanly (all ranks agree through the per-step all-reduce); a non-finite loss stops the run before
the optimizer step, leaving the last good checkpoint untouched (:class:`NonFiniteLoss`).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import random
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..io.annotations import default_image_folder
from ..io.checkpoint import (load_checkpoint, mismatch_summary, model_weights, remove_stale_temporaries,
                         save_checkpoint)
from ..config import from_dict, to_dict
from ..data import DataConfig
from ..device import check_device
from ..errors import UserError
from ..extras import require
from .loss import LossConfig, pose_loss
from ..models import ModelConfig, PoseNet, build_model

__all__ = ["OptimConfig", "TrainConfig", "TrainResult", "NonFiniteLoss", "ResumableSampler",
           "SeededSamples", "seed_loader_worker", "train"]

log = logging.getLogger(__name__)


@dataclass
class OptimConfig:
    """Adam with a step learning-rate schedule; ``grad_clip`` > 0 clips the global grad norm."""

    lr: float = 1e-4
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    lr_step: int = 20_000
    lr_gamma: float = 0.5
    grad_clip: float = 0.0


@dataclass
class TrainConfig:
    """Everything a training run needs; saved inside every checkpoint.

    Data: ``train_annotations`` lists COCO person-keypoint files (several combine, e.g. 2014
    train + val and 2017 train); ``train_images`` is one image folder or one per file (default:
    ``images/`` next to each file if present, else the file's folder).
    Validation (COCO keypoint AP on the first ``val_max_images`` images, network input height
    ``val_input_height``, default the crop size) runs every ``val_every`` iterations when
    ``val_annotations`` is set. Losses, lr, throughput and validation metrics also go to
    ``out_dir/metrics.jsonl`` (one JSON object per line) for plotting without TensorBoard. ``amp``: "auto" (bf16 on CUDA when supported,
    else fp16; off on CPU), "off", "bf16" or "fp16". ``channels_last``: None = on CUDA only.
    Initialisation: ``backbone_weights`` (a torchvision VGG-19 file, VGG networks) or
    ``init_weights`` (a pafpose checkpoint or bundled name such as ``mobilenet-thin-coco``, whose
    network must match ``model``: its weights are loaded, not its optimizer state or schedule).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train_images: list[str] = field(default_factory=list)
    train_annotations: list[str] = field(default_factory=list)
    val_images: str | None = None
    val_annotations: str | None = None
    val_every: int = 0
    val_max_images: int = 500
    val_input_height: int | None = None
    backbone_weights: str | None = None
    init_weights: str | None = None
    out_dir: str = "runs/train"
    iterations: int = 200_000
    batch_size: int = 10
    workers: int = 4
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool | None = None
    checkpoint_every: int = 1000
    keep_every: int = 20_000
    log_every: int = 20
    image_every: int = 1000
    tensorboard: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        if self.amp not in ("auto", "off", "bf16", "fp16"):
            raise UserError(f"train config: amp must be auto, off, bf16 or fp16, got {self.amp!r}")
        for name in ("iterations", "batch_size", "checkpoint_every", "log_every"):
            if getattr(self, name) <= 0:
                raise UserError(f"train config: {name} must be positive, got {getattr(self, name)}")
        if self.workers < 0:
            raise UserError(f"train config: workers must be >= 0, got {self.workers}")


@dataclass
class TrainResult:
    """Where a run ended: its iteration, last checkpoint, whether a signal stopped it, the last
    (rank-averaged) loss, the trained model (unwrapped from DDP, on the training device), how
    many broken samples this run's data loading skipped (over all ranks), the validation
    metrics of the final iteration (None unless it was validated, and on ranks other than 0) and
    why each malformed annotation was left out of the dataset."""

    iteration: int
    checkpoint: Path | None
    interrupted: bool
    last_loss: float
    model: PoseNet
    skipped_samples: int
    final_val_metrics: dict[str, float] | None = None
    skipped_annotations: list[str] = field(default_factory=list)


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or inf; the run stopped without saving over the last good checkpoint."""


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of sample ``index`` in ``epoch``: independent streams per sample."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class ResumableSampler(DistributedSampler):
    """A DistributedSampler (shuffled, drop_last) that can start mid-epoch.

    Yields ``(index, seed)`` pairs for :class:`SeededSamples`. ``set_position(epoch, start)``
    skips the first ``start`` samples of this rank's share of ``epoch``.
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                         drop_last=True)
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        self.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in list(super().__iter__())[self.start:]:
            yield index, sample_seed(self.seed, self.epoch, index)

    def __len__(self) -> int:
        return self.num_samples - self.start


class SeededSamples(Dataset):
    """Reseeds the wrapped dataset's augmentation (``reseed``) before each ``(index, seed)`` item."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        index, seed = key
        if hasattr(self.dataset, "reseed"):
            self.dataset.reseed(seed)
        return self.dataset[index]


def seed_loader_worker(worker_id: int) -> None:
    """``worker_init_fn`` of the training loader (signals are the main process's to handle)."""
    # Ctrl-C reaches the whole process group: workers must not die before the main process has
    # finished its step and saved; it shuts them down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def build_train_dataset(cfg: TrainConfig) -> Dataset:
    from ..data import CocoPoseDataset

    if not cfg.train_annotations:
        raise UserError("no training annotations given (train_annotations / --annotations)")
    images = cfg.train_images or [str(default_image_folder(a)) for a in cfg.train_annotations]
    return CocoPoseDataset(images, cfg.train_annotations, cfg.data, train=True, seed=cfg.seed)


# --------------------------------------------------------------------------------------------
# process setup
# --------------------------------------------------------------------------------------------


@dataclass
class _Dist:
    rank: int
    world_size: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup(cfg: TrainConfig) -> _Dist:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cfg.device == "auto":
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = check_device(cfg.device)
        if device.type == "cuda" and device.index is None:
            device = torch.device(f"cuda:{local_rank}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        # Long validation passes on rank 0 must not trip the collective timeout of the others.
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=datetime.timedelta(hours=2))
    rank = dist.get_rank() if dist.is_initialized() else 0
    return _Dist(rank, dist.get_world_size() if dist.is_initialized() else 1, device)


def _amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    if cfg.amp == "off" or (cfg.amp == "auto" and device.type != "cuda"):
        return None
    if cfg.amp == "fp16":
        return torch.float16
    if cfg.amp == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": random.getstate(),
    }


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


@contextmanager
def _stop_on_signals():
    """Turn SIGINT/SIGTERM into a flag the loop checks after each step."""
    requested = {"stop": False}

    def handler(signum, frame):
        requested["stop"] = True

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _load_init_weights(model: torch.nn.Module, weights: str) -> None:
    """Start from a checkpoint's (or bundled weights') network: weights only, no optimizer state."""
    from ..io.checkpoint import resolve_weights

    path = resolve_weights(weights)
    state = load_checkpoint(path)
    source = model_weights(state)
    try:
        model.load_state_dict(source)
    except RuntimeError:
        arch = (state.get("model_config") or {}).get("arch", "?")
        raise UserError(f"{path}: init weights ({arch}) do not fit the configured {model.cfg.arch} model "
                        f"({mismatch_summary(model.state_dict(), source)})") from None


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------


class _Trainer:
    def __init__(self, cfg: TrainConfig, dataset: Dataset, ctx: _Dist, resume: Path | None):
        self.cfg, self.ctx = cfg, ctx
        device = ctx.device
        torch.manual_seed(cfg.seed + ctx.rank)
        np.random.seed((cfg.seed + ctx.rank) % 2**32)
        random.seed(cfg.seed + ctx.rank)
        self.model: PoseNet = build_model(cfg.model, cfg.backbone_weights if resume is None else None)
        if cfg.init_weights and resume is None:
            _load_init_weights(self.model, cfg.init_weights)
        self.channels_last = device.type == "cuda" if cfg.channels_last is None else cfg.channels_last
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model.to(device=device, memory_format=memory_format)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.optim.lr,
                                          betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, cfg.optim.lr_step, cfg.optim.lr_gamma)
        self.amp_dtype = _amp_dtype(cfg, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.iteration = 0
        self.out_dir = Path(cfg.out_dir)
        self.last_checkpoint: Path | None = None
        self.last_checkpoint_iteration = 0
        self.skipped = 0
        self.started = time.perf_counter()
        if resume is not None:
            self._restore(resume)
        if ctx.main:
            remove_stale_temporaries(self.out_dir)
            if resume is not None:
                self._truncate_metrics()
        self.net = self.model
        if ctx.world_size > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None)
        self.sampler = ResumableSampler(dataset, ctx.world_size, ctx.rank, cfg.seed)
        self.batches_per_epoch = self.sampler.num_samples // cfg.batch_size
        if self.batches_per_epoch == 0:
            raise UserError(f"the dataset has {len(dataset)} samples, fewer than one batch of "
                            f"{cfg.batch_size} per process x {ctx.world_size} processes")
        self.loader = DataLoader(SeededSamples(dataset), batch_size=cfg.batch_size, sampler=self.sampler,
                                 num_workers=cfg.workers, worker_init_fn=seed_loader_worker, drop_last=True,
                                 pin_memory=device.type == "cuda", persistent_workers=False,
                                 # Its own generator: starting an epoch must not draw from the global
                                 # RNG, which the loss's random negative mining uses.
                                 generator=torch.Generator().manual_seed(cfg.seed),
                                 prefetch_factor=4 if cfg.workers else None)
        self.skipped_annotations: list[str] = list(getattr(dataset, "skipped_annotations", []))
        if self.skipped_annotations and resume is None:  # a resumed run's log has them already
            self.log_metrics({"skipped_annotations": len(self.skipped_annotations),
                              "skipped_annotation_reasons": self.skipped_annotations[:100]})
        self.writer = None
        if ctx.main and cfg.tensorboard:
            require("tensorboard", "train", "TensorBoard logging (set tensorboard: false to do without)")
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))

    # checkpoints ----------------------------------------------------------------------------

    def _restore(self, path: Path) -> None:
        state = load_checkpoint(path)
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError:
            raise UserError(f"{path}: weights do not match the configured model "
                            f"({mismatch_summary(self.model.state_dict(), state['model'])})") from None
        for key in ("optimizer", "scheduler", "scaler", "rng", "iteration"):
            if key not in state:
                raise UserError(f"{path}: not a training checkpoint (no '{key}'); use it as backbone "
                                "or weights instead of --resume")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.iteration = int(state["iteration"])
        ranks = state["rng"]
        if len(ranks) == self.ctx.world_size:
            _set_rng_state(ranks[self.ctx.rank])
        position = state.get("data", {})
        expected = {"world_size": self.ctx.world_size, "batch_size": self.cfg.batch_size}
        if any(position.get(k) != v for k, v in expected.items()) and self.ctx.main:
            log.warning("%s was written with %s; resuming with %s: the data order will differ",
                        path, {k: position.get(k) for k in expected}, expected)
        self.last_checkpoint, self.last_checkpoint_iteration = path, self.iteration

    def save(self) -> Path | None:
        rng = [_rng_state()]
        if self.ctx.world_size > 1:
            rng = [None] * self.ctx.world_size
            dist.all_gather_object(rng, _rng_state())
        if not self.ctx.main:
            return None
        state = {
            "model": self.model.state_dict(),
            "model_config": self.cfg.model.to_dict(),
            "train_config": to_dict(self.cfg),
            "iteration": self.iteration,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "data": {"epoch": self.iteration // self.batches_per_epoch,
                     "batch": self.iteration % self.batches_per_epoch,
                     "world_size": self.ctx.world_size, "batch_size": self.cfg.batch_size},
        }
        path = save_checkpoint(self.out_dir / "last.pt", state)
        if self.cfg.keep_every and self.iteration % self.cfg.keep_every == 0:
            save_checkpoint(self.out_dir / f"iter_{self.iteration:07d}.pt", state)
        self.last_checkpoint, self.last_checkpoint_iteration = path, self.iteration
        return path

    # steps ----------------------------------------------------------------------------------

    def batches(self) -> Iterator[dict]:
        """Batches from the current data position on, epoch after epoch."""
        while True:
            epoch, batch = divmod(self.iteration, self.batches_per_epoch)
            self.sampler.set_position(epoch, batch * self.cfg.batch_size)
            yield from self.loader

    def step(self, batch: dict, stop_requested: bool) -> tuple[list[float], bool, dict]:
        """One optimisation step; returns (rank-averaged [total, per-stage...] losses, stop, maps)."""
        device = self.ctx.device
        images = batch["image"].to(device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        pafs_t = batch["pafs"].to(device, non_blocking=True)
        heat_t = batch["heatmaps"].to(device, non_blocking=True)
        mask = batch["mask"].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            pafs, heatmaps = self.net(images)
        loss = pose_loss(pafs, heatmaps, pafs_t, heat_t, mask, self.cfg.loss)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss.total).backward()
        skipped = batch["skipped"].sum() if "skipped" in batch else 0  # broken samples replaced
        stats = torch.cat([torch.stack([loss.total.detach(), *loss.paf_stages, *loss.heatmap_stages]),
                           torch.tensor([float(skipped), float(stop_requested)], device=device)])
        if self.ctx.world_size > 1:  # one small all-reduce: averaged losses, global counts, stop vote
            dist.all_reduce(stats)
            stats[:-2] /= self.ctx.world_size
        *values, skipped, stop = stats.tolist()
        self.skipped += int(skipped)
        if not math.isfinite(values[0]):
            where = (f"{self.last_checkpoint} (iteration {self.last_checkpoint_iteration})"
                     if self.last_checkpoint else "none written yet")
            raise NonFiniteLoss(f"non-finite loss ({values[0]}) at iteration {self.iteration + 1}; "
                                f"stopped before updating the weights. Last good checkpoint: {where}. "
                                "Try a lower lr, grad clipping (optim.grad_clip) or amp: off.")
        if self.cfg.optim.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.iteration += 1
        maps = {"image": images[:1], "pafs": pafs[-1][:1].detach(), "heatmaps": heatmaps[-1][:1].detach(),
                "pafs_t": pafs_t[:1], "heatmaps_t": heat_t[:1]}
        return values, stop > 0, maps

    # logging --------------------------------------------------------------------------------

    def _truncate_metrics(self) -> None:
        """Drop log lines past the resumed checkpoint: the resumed run logs those iterations again."""
        from ..io.outputs import atomic_write_bytes

        path = self.out_dir / "metrics.jsonl"
        if not path.is_file():
            return
        kept = []
        for line in path.read_text().splitlines():
            try:
                if json.loads(line)["iteration"] <= self.iteration:
                    kept.append(line + "\n")
            except (ValueError, KeyError, TypeError):  # a line cut short by the crash
                continue
        atomic_write_bytes(path, "".join(kept).encode())

    def log_metrics(self, record: dict) -> None:
        """Append one JSON line to out_dir/metrics.jsonl (main process only)."""
        if not self.ctx.main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.out_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"iteration": self.iteration, **record}) + "\n")

    def log_scalars(self, losses: list[float], images_per_s: float) -> None:
        self.log_metrics({"loss": losses[0], "lr": self.scheduler.get_last_lr()[0],
                          "images_per_s": images_per_s, "elapsed_s": time.perf_counter() - self.started,
                          "skipped_samples": self.skipped})
        if self.writer is None:
            return
        n_paf = len(self.model.paf_stages)
        it = self.iteration
        self.writer.add_scalar("loss/total", losses[0], it)
        for t, value in enumerate(losses[1:1 + n_paf], start=1):
            self.writer.add_scalar(f"loss/paf_stage{t}", value, it)
        for t, value in enumerate(losses[1 + n_paf:], start=1):
            self.writer.add_scalar(f"loss/heatmap_stage{t}", value, it)
        self.writer.add_scalar("lr", self.scheduler.get_last_lr()[0], it)
        self.writer.add_scalar("images_per_s", images_per_s, it)
        self.writer.add_scalar("data/skipped_samples", self.skipped, it)

    def log_images(self, maps: dict) -> None:
        if self.writer is None:
            return
        from ..inference.render import heatmap_overlay, paf_overlay

        image = (maps["image"][0].float().permute(1, 2, 0).cpu().numpy()[..., ::-1] * 255).astype(np.uint8)
        def arr(key):
            return maps[key][0].detach().float().cpu().numpy()
        rows = [np.concatenate([heatmap_overlay(image, arr("heatmaps")[:-1]),
                                heatmap_overlay(image, arr("heatmaps_t")[:-1])], axis=1),
                np.concatenate([paf_overlay(image, arr("pafs")), paf_overlay(image, arr("pafs_t"))], axis=1)]
        grid = np.ascontiguousarray(np.concatenate(rows, axis=0)[..., ::-1])
        self.writer.add_image("maps/predicted_vs_target", grid, self.iteration, dataformats="HWC")

    def validate(self) -> dict[str, float] | None:
        if not (self.cfg.val_annotations and self.cfg.val_every):
            return None
        metrics = None
        if self.ctx.main:
            metrics = validate_coco(self.model, self.cfg, self.ctx.device)
            self.log_metrics({"val": metrics})
            if self.writer is not None:
                for name, value in metrics.items():
                    if math.isfinite(value):  # NaN: no ground truth in that area range
                        self.writer.add_scalar(f"val/{name}", value, self.iteration)
        if self.ctx.world_size > 1:
            dist.barrier()
        return metrics


def validate_coco(model: PoseNet, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    """COCO keypoint AP of ``model`` on the first ``val_max_images`` validation images."""
    from ..io.annotations import load_coco
    from ..inference.evaluate import evaluate_keypoints, people_to_coco_results
    from ..io.images import read_image
    from ..inference.predict import Predictor

    coco = load_coco(cfg.val_annotations)
    root = Path(cfg.val_images or default_image_folder(cfg.val_annotations))
    image_ids = sorted(coco.getImgIds())[:cfg.val_max_images]
    was_training = model.training
    model.eval()
    predictor = Predictor(model, device=device, input_height=cfg.val_input_height or cfg.data.crop_size)
    results = []
    for image_id in image_ids:
        image = read_image(root / coco.imgs[image_id]["file_name"])
        results += people_to_coco_results(predictor.predict(image), image_id)
    model.train(was_training)
    return evaluate_keypoints(coco, results, image_ids)


def train(cfg: TrainConfig, dataset: Dataset | None = None, resume: str | Path | None = None) -> TrainResult:
    """Run (or resume) training; returns where it ended. Raises NonFiniteLoss when the loss diverges.

    ``dataset`` defaults to :class:`pafpose.data.CocoPoseDataset` over the configured files; any
    dataset of the same item layout works (tests use tiny in-memory ones).
    """
    ctx = _setup(cfg)
    try:
        if dataset is None:
            dataset = build_train_dataset(cfg)
        trainer = _Trainer(cfg, dataset, ctx, Path(resume) if resume is not None else None)
        return _run(trainer)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _run(trainer: _Trainer) -> TrainResult:
    cfg, ctx = trainer.cfg, trainer.ctx
    trainer.model.train()
    bar = None
    if ctx.main and cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.iterations, initial=trainer.iteration, desc="train", unit="it",
                   dynamic_ncols=True)
    losses = [float("nan")]
    interrupted = False
    metrics = None
    window_start, window_images = time.perf_counter(), 0
    images_per_step = cfg.batch_size * ctx.world_size
    try:
        with _stop_on_signals() as signals:
            batches = trainer.batches()
            while trainer.iteration < cfg.iterations:
                losses, stop, maps = trainer.step(next(batches), signals["stop"])
                metrics = None
                it = trainer.iteration
                window_images += images_per_step
                if bar is not None:
                    bar.update(1)
                if it % cfg.log_every == 0 or it == cfg.iterations:
                    elapsed = time.perf_counter() - window_start
                    rate = window_images / max(elapsed, 1e-9)
                    trainer.log_scalars(losses, rate)
                    if bar is not None:
                        bar.set_postfix(loss=f"{losses[0]:.4g}", img_s=f"{rate:.1f}",
                                        lr=f"{trainer.scheduler.get_last_lr()[0]:.2g}",
                                        **({"skipped": trainer.skipped} if trainer.skipped else {}))
                    window_start, window_images = time.perf_counter(), 0
                if cfg.image_every and it % cfg.image_every == 0:
                    trainer.log_images(maps)
                if stop:
                    interrupted = True
                    trainer.save()
                    break
                if it % cfg.checkpoint_every == 0 or it == cfg.iterations:
                    trainer.save()
                if cfg.val_every and it % cfg.val_every == 0:
                    metrics = trainer.validate()
                    if metrics:
                        (bar.write if bar is not None else print)(
                            f"iteration {it}: val AP {metrics['AP']:.4f} AP50 {metrics['AP50']:.4f}")
    finally:
        if bar is not None:
            bar.close()
        if trainer.writer is not None:
            trainer.writer.close()
    return TrainResult(trainer.iteration, trainer.last_checkpoint, interrupted, losses[0], trainer.model,
                       trainer.skipped, metrics, trainer.skipped_annotations)

"""The training loop: one process per device, from a laptop CPU to ``torchrun`` over many GPU nodes.

Schedule (defaults, the paper's): Adam (lr 1e-4, weight decay 5e-4), lr x 0.5 every 20k
iterations, 200k iterations, ``batch_size`` images per process per iteration. On CUDA the forward
runs under autocast (bf16 where supported, else fp16 with a GradScaler) on channels_last tensors.

Distributed: under ``torchrun`` (WORLD_SIZE > 1) every process joins a process group
(:mod:`.distributed`), wraps the model in DistributedDataParallel and reads its shard of each
epoch through a :class:`~.sampling.ResumableSampler`.

Exact resume. A checkpoint holds the model, optimizer, scheduler, scaler, every rank's RNG
states, the iteration and the data position. The data order is a function of (seed, epoch) and
each sample's augmentation of (seed, epoch, index) (:mod:`.sampling`), so which worker process
loads a sample, and where in an epoch a run (re)starts, change nothing: resuming at iteration k
and training to n gives the same weights as training to n directly (bit-exact on CPU; on GPU up
to cuDNN's non-deterministic kernels).

Robustness: checkpoints are written atomically every ``checkpoint_every`` iterations (``last.pt``
plus a kept copy every ``keep_every``); SIGINT/SIGTERM finish the current step, save and exit
cleanly (all ranks agree through the per-step all-reduce); a non-finite loss stops the run before
the optimizer step, leaving the last good checkpoint untouched (:class:`NonFiniteLoss`).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset

from ..codec.head import check_same_head
from ..config import to_dict
from ..errors import UserError
from ..extras import require
from ..inference.evaluate import validate_coco
from ..io.checkpoint import (load_checkpoint, load_weights, model_weights, remove_stale_temporaries,
                             resolve_weights, save_checkpoint)
from ..models import PoseNet, build_model
from .config import TrainConfig
from .distributed import (ProcessContext, amp_dtype, end_process_group, rng_state, set_rng_state,
                          setup_process, stop_on_signals)
from .loss import pose_loss
from .sampling import build_train_dataset, build_train_loader

__all__ = ["NonFiniteLoss", "TrainResult", "train"]

log = logging.getLogger(__name__)


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


def _load_init_weights(model: torch.nn.Module, weights: str) -> None:
    """Start from a checkpoint's (or bundled weights') network: weights only, no optimizer state."""
    path = resolve_weights(weights)
    state = load_checkpoint(path)
    arch = (state.get("model_config") or {}).get("arch", "?")
    load_weights(model, model_weights(state),
                 f"{path}: init weights ({arch}) do not fit the configured {model.cfg.arch} model")


class _Trainer:
    """One process's share of a run: model, optimiser, schedule, loader, checkpoints and logs."""

    def __init__(self, cfg: TrainConfig, dataset: Dataset, ctx: ProcessContext, resume: Path | None):
        if getattr(dataset, "head", None) is not None:  # targets made for another head train nothing
            check_same_head(cfg.model.head, dataset.head, "the model", "the dataset")
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
        self.amp_dtype = amp_dtype(cfg.amp, device)
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
        self.loader = build_train_loader(dataset, cfg.batch_size, cfg.workers, cfg.seed, ctx.rank,
                                         ctx.world_size, pin_memory=device.type == "cuda")
        self.sampler = self.loader.sampler
        self.batches_per_epoch = self.sampler.num_samples // cfg.batch_size
        if self.batches_per_epoch == 0:
            raise UserError(f"the dataset has {len(dataset)} samples, fewer than one batch of "
                            f"{cfg.batch_size} per process x {ctx.world_size} processes")
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
        load_weights(self.model, state["model"], f"{path}: weights do not match the configured model")
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
            set_rng_state(ranks[self.ctx.rank])
        position = state.get("data", {})
        expected = {"world_size": self.ctx.world_size, "batch_size": self.cfg.batch_size}
        if any(position.get(k) != v for k, v in expected.items()) and self.ctx.main:
            log.warning("%s was written with %s; resuming with %s: the data order will differ",
                        path, {k: position.get(k) for k in expected}, expected)
        self.last_checkpoint, self.last_checkpoint_iteration = path, self.iteration

    def save(self) -> Path | None:
        rng = [rng_state()]
        if self.ctx.world_size > 1:
            rng = [None] * self.ctx.world_size
            dist.all_gather_object(rng, rng_state())
        if not self.ctx.main:
            return None
        state = {
            "model": self.model.state_dict(),
            "model_config": to_dict(self.cfg.model),
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
            cfg = self.cfg
            metrics = validate_coco(self.model, cfg.val_annotations, cfg.val_images,
                                    input_height=cfg.validation_height,
                                    max_images=cfg.val_max_images, device=self.ctx.device)
            self.log_metrics({"val": metrics})
            if self.writer is not None:
                for name, value in metrics.items():
                    if math.isfinite(value):  # NaN: no ground truth in that area range
                        self.writer.add_scalar(f"val/{name}", value, self.iteration)
        if self.ctx.world_size > 1:
            dist.barrier()
        return metrics


def train(cfg: TrainConfig, dataset: Dataset | None = None, resume: str | Path | None = None) -> TrainResult:
    """Run (or resume) training; returns where it ended. Raises NonFiniteLoss when the loss diverges.

    ``dataset`` defaults to :class:`pafpose.data.CocoPoseDataset` over the configured files; any
    dataset of the same item layout works (tests use tiny in-memory ones).
    """
    ctx = setup_process(cfg.device)
    try:
        if dataset is None:
            dataset = build_train_dataset(cfg)
        trainer = _Trainer(cfg, dataset, ctx, Path(resume) if resume is not None else None)
        return _run(trainer)
    finally:
        end_process_group()


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
        with stop_on_signals() as signals:
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

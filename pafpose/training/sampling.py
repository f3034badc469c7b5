"""Training data: the dataset a config names, and the resumable, seeded loader that reads it.

The data order is a function of (seed, epoch) (a shuffled DistributedSampler, one share per rank)
and each sample's augmentation is drawn from a generator seeded by (seed, epoch, index)
(:class:`SeededSamples`), so which worker process loads a sample, how many workers there are,
and where in an epoch a run (re)starts change nothing: a loader started at batch k of an epoch
yields exactly the batches k, k+1, ... of a loader started at its beginning.
"""

from __future__ import annotations

import signal
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..data import CocoPoseDataset
from ..errors import UserError
from ..io.annotations import default_image_folder
from .config import TrainConfig

__all__ = ["ResumableSampler", "SeededSamples", "build_train_dataset", "build_train_loader",
           "init_loader_worker", "sample_seed"]


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


def init_loader_worker(worker_id: int) -> None:
    """``worker_init_fn`` of the training loader (signals are the main process's to handle).

    Nothing to seed: every item's augmentation comes from its own seed (:class:`SeededSamples`).
    """
    # Ctrl-C reaches the whole process group: workers must not die before the main process has
    # finished its step and saved; it shuts them down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def build_train_loader(dataset: Dataset, batch_size: int, workers: int, seed: int, rank: int = 0,
                       world_size: int = 1, pin_memory: bool = False) -> DataLoader:
    """The training loader: ``rank``'s share of ``dataset`` in ``batch_size`` batches (the last
    partial one dropped), read by ``workers`` processes.

    Its ``sampler`` is a :class:`ResumableSampler`: call ``loader.sampler.set_position(epoch,
    start)`` before each pass (as ``set_epoch`` for any DistributedSampler).
    """
    sampler = ResumableSampler(dataset, world_size, rank, seed)
    return DataLoader(SeededSamples(dataset), batch_size=batch_size, sampler=sampler,
                      num_workers=workers, worker_init_fn=init_loader_worker, drop_last=True,
                      pin_memory=pin_memory, persistent_workers=False,
                      # Its own generator: starting an epoch must not draw from the global
                      # RNG, which the loss's random negative mining uses.
                      generator=torch.Generator().manual_seed(seed),
                      prefetch_factor=4 if workers else None)


def build_train_dataset(cfg: TrainConfig) -> Dataset:
    """The :class:`pafpose.data.CocoPoseDataset` over ``cfg``'s training files."""
    if not cfg.train_annotations:
        raise UserError("no training annotations given (train_annotations / --annotations)")
    images = cfg.train_images or [str(default_image_folder(a)) for a in cfg.train_annotations]
    return CocoPoseDataset(images, cfg.train_annotations, cfg.data, train=True, seed=cfg.seed,
                           head=cfg.model.head)

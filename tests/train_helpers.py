"""Tiny models and in-memory pose datasets for the model, loss and training tests."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from pafpose.codec.head import PafCodec
from pafpose.models import ModelConfig

CODEC = PafCodec()

TINY_MODEL = dict(backbone_width=0.125, cpm_channels=(16, 16), paf_stages=2, heatmap_stages=1,
                  stage_blocks=1, first_stage_channels=16, stage_channels=16,
                  first_head_channels=32, head_channels=32, activation="relu")


def tiny_config(**changes) -> ModelConfig:
    return ModelConfig(**{**TINY_MODEL, **changes})


def random_people(rng: np.random.Generator, size: int, people: int = 2) -> np.ndarray:
    """(P, 18, 3) keypoints: random stick figures inside a size x size crop, all labelled."""
    centres = rng.uniform(0.3 * size, 0.7 * size, (people, 1, 2))
    offsets = rng.normal(0.0, 0.15 * size, (people, 18, 2))
    xy = np.clip(centres + offsets, 0, size - 1)
    return np.concatenate([xy, np.full((people, 18, 1), 2.0)], axis=-1).astype(np.float32)


class PoseSamples(Dataset):
    """Deterministic samples in CocoPoseDataset's item layout: random images with real targets.

    Items depend on ``(index, reseed value)`` only, like an augmenting dataset, so training
    on them tests that every sample's randomness is reproducible.
    """

    def __init__(self, count: int = 8, size: int = 64, seed: int = 0):
        self.count, self.size, self.seed = count, size, seed
        self._rng_seed = seed

    def __len__(self) -> int:
        return self.count

    def reseed(self, seed: int) -> None:
        self._rng_seed = seed

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index])
        aug = np.random.default_rng(self._rng_seed)  # the "augmentation": a brightness shift
        keypoints = random_people(rng, self.size)
        heatmaps, pafs = CODEC.encode(keypoints, (self.size, self.size))
        maps = heatmaps.shape[1:]
        image = rng.uniform(0, 1, (3, self.size, self.size)).astype(np.float32)
        image = np.clip(image + aug.uniform(-0.1, 0.1), 0, 1).astype(np.float32)
        mask = np.ones((1, *maps), np.float32)
        mask[:, :1, :] = 0  # a masked-out strip, as crowds produce
        return {
            "image": torch.from_numpy(image),
            "heatmaps": torch.from_numpy(heatmaps),
            "pafs": torch.from_numpy(pafs),
            "mask": torch.from_numpy(mask),
            "index": index,
        }

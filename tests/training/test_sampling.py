"""The training loader: repeatable epochs whatever the workers, mid-epoch resume, rank shares."""

from __future__ import annotations

import torch

from pafpose.data import CocoPoseDataset, DataConfig
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR
from pafpose.training.sampling import build_train_loader


def _same_batches(a, b):
    return len(a) == len(b) and all(x["index"].equal(y["index"]) and x["image"].equal(y["image"])
                                    for x, y in zip(a, b))


def test_training_loader_repeats_whatever_the_workers_and_resumes_mid_epoch():
    dataset = CocoPoseDataset(SAMPLE_DIR, SAMPLE_ANNOTATIONS, DataConfig(crop_size=64))

    def epoch_batches(seed=0, workers=0, epoch=0, start=0):
        loader = build_train_loader(dataset, batch_size=3, workers=workers, seed=seed)
        loader.sampler.set_position(epoch, start)
        return [{"index": b["index"], "image": b["image"]} for b in loader]

    reference = epoch_batches()
    assert len(reference) == len(dataset) // 3 == 4
    assert _same_batches(epoch_batches(), reference)
    assert _same_batches(epoch_batches(workers=2), reference)  # worker processes change nothing
    # Starting at batch 2 (a resumed run) gives the rest of the same epoch, exactly.
    assert _same_batches(epoch_batches(workers=2, start=6), reference[2:])
    assert not _same_batches(epoch_batches(seed=1), reference)
    # The next epoch: another order of the same samples, each with a new augmentation.
    next_epoch = epoch_batches(epoch=1)
    assert not torch.cat([b["index"] for b in next_epoch]).equal(torch.cat([b["index"] for b in reference]))
    first = {int(i): image for b in reference for i, image in zip(b["index"], b["image"])}
    second = {int(i): image for b in next_epoch for i, image in zip(b["index"], b["image"])}
    assert first.keys() == second.keys() == set(range(len(dataset)))
    assert not any(first[i].equal(second[i]) for i in first)


def test_training_loader_splits_each_epoch_over_ranks():
    dataset = CocoPoseDataset(SAMPLE_DIR, SAMPLE_ANNOTATIONS, DataConfig(crop_size=64))
    alone = {int(i): image for b in build_train_loader(dataset, batch_size=2, workers=0, seed=0)
             for i, image in zip(b["index"], b["image"])}
    shares = []
    for rank in (0, 1):
        loader = build_train_loader(dataset, batch_size=2, workers=0, seed=0, rank=rank, world_size=2)
        share = [(int(i), image) for b in loader for i, image in zip(b["index"], b["image"])]
        # A sample's augmentation depends on (seed, epoch, index), not on who reads it.
        assert all(image.equal(alone[i]) for i, image in share)
        shares.append([i for i, _ in share])
    assert len(shares[0]) == len(shares[1]) == len(dataset) // 2
    assert sorted(shares[0] + shares[1]) == list(range(len(dataset)))

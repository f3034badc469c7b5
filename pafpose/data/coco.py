"""COCO person-keypoint training data: samples, targets and masks.

Samples follow OpenPose. For training there is one sample per (image, main person): every person
with at least ``min_keypoints`` labelled keypoints and ``min_area`` of segmentation is a main
person, and its sample is a random crop centred on it (see :mod:`.augment`). For validation
(``train=False``) there is one sample per image, scaled to fit the crop without augmentation.
Targets are rendered after the warp from ALL people's keypoints by the model head's codec
(:class:`pafpose.codec.head.PafCodec`: skeleton, stride, Gaussian and limb widths); the loss mask marks
crowds, under-labelled people and everything beyond the source image.

Several annotation files combine (COCO 2014 train + val and 2017 train): images are deduplicated
by file name, ignoring the ``COCO_<split><year>_`` prefix of 2014 names, so each photo is used
once whichever release listed it first.

Broken data never stops a run. A malformed annotation (wrong-length keypoints, a missing
image_id, a box of zero width, ...) is left out when the files are read, logged with its file, id
and field, and listed in ``dataset.skipped_annotations``; only a dataset with no usable sample
left is an error. An image that fails to load or render, or whose size is not the annotated one
(:func:`pafpose.io.annotations.read_annotated_image`), is logged once (naming the file), counted
in ``dataset.skipped``, and replaced by another random sample. DataLoader
workers are separate processes, so each item also carries ``"skipped"``: how many broken samples
were replaced to produce it; summing that over batches gives the run's total.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..codec.head import HeadSpec, PafCodec
from ..codec.masks import is_fully_labelled, loss_mask
from ..errors import UserError
from ..io.annotations import load_coco, read_annotated_image
from .augment import (Augmentation, fit_augmentation, sample_augmentation, to_network_input, warp_image,
                      warp_keypoints, warp_mask)
from .config import DataConfig

__all__ = ["CocoPoseDataset", "ImageRecord", "render_sample"]

log = logging.getLogger(__name__)

# What a broken image or annotation raises on its way through decoding, masks and targets.
_DATA_ERRORS = (ValueError, TypeError, KeyError, IndexError, OSError, cv2.error)
_MAX_REPLACEMENTS = 20
_REASONS_LOGGED = 20  # malformed annotations named one by one; beyond that, only counted
_COCO2014_PREFIX = re.compile(r"^COCO_[a-z]+\d{4}_")


@dataclass(frozen=True)
class ImageRecord:
    """One image and its person annotations (crowds included).

    The annotations are kept as one JSON byte string per image: DataLoader workers are forked
    copies of the dataset, and touching millions of small Python objects (reference counts)
    would copy their memory pages into every worker; one bytes object per image stays shared.
    """

    path: Path
    image_id: int
    annotations_json: bytes
    size: tuple[int | None, int | None] = (None, None)  # (width, height) as annotated

    @property
    def annotations(self) -> list[dict]:
        return json.loads(self.annotations_json)


def _as_list(value) -> list:
    return [value] if isinstance(value, (str, Path)) else list(value)


def _read_records(image_roots: list[Path], annotation_files: list[Path]
                  ) -> tuple[list[ImageRecord], list[str]]:
    records: dict[str, ImageRecord] = {}
    skipped: list[str] = []
    for root, annotation_file in zip(image_roots, annotation_files):
        if not root.is_dir():
            raise UserError(f"{root}: image folder not found")
        coco = load_coco(annotation_file)
        skipped += coco.skipped_annotations
        person_ids = set(coco.getCatIds(catNms=["person"])) or {1}
        for image_id in sorted(coco.getImgIds()):
            info = coco.imgs[image_id]
            key = _COCO2014_PREFIX.sub("", Path(info["file_name"]).name)
            if key in records:
                continue
            anns = [a for a in coco.imgToAnns.get(image_id, []) if a["category_id"] in person_ids]
            records[key] = ImageRecord(root / info["file_name"], image_id, json.dumps(anns).encode(),
                                       (info.get("width"), info.get("height")))
    return list(records.values()), skipped


class CocoPoseDataset(Dataset):
    """COCO person keypoints as network inputs and targets.

    Args:
        image_root: image folder, or one folder per annotation file.
        annotation_files: one COCO person-keypoints JSON file or several.
        cfg: crop, target and augmentation settings.
        train: random crops around each main person (True) or whole images fitted to the crop.
        seed: seed of the augmentation generator in the main process (loader workers reseed it).
        head: the model head the targets are for (default: :class:`HeadSpec`'s COCO-18 head).

    Items are dicts: "image" (3, S, S) float32 RGB in [0, 1], "heatmaps" (K + 1, S/s, S/s) with
    the background last, "pafs" (2L, S/s, S/s) in the skeleton's limb order, "mask" (1, S/s, S/s) 1 where
    the loss counts, "affine" (2, 3) float32 source -> crop pixels (flip included), and ints
    "index" (the sample delivered), "image_id" and "skipped" (broken samples replaced).
    """

    def __init__(self, image_root: str | Path | Sequence[str | Path],
                 annotation_files: str | Path | Sequence[str | Path],
                 cfg: DataConfig | None = None, train: bool = True, seed: int = 0,
                 head: HeadSpec | None = None) -> None:
        self.cfg = cfg or DataConfig()
        self.codec = PafCodec(head)
        if self.cfg.crop_size % self.codec.stride:
            raise UserError(f"data config: crop_size ({self.cfg.crop_size}) must be a multiple of the "
                            f"head's stride ({self.codec.stride})")
        self.train = train
        roots = [Path(p) for p in _as_list(image_root)]
        files = [Path(p) for p in _as_list(annotation_files)]
        if not files:
            raise UserError("no annotation file given")
        if len(roots) == 1:
            roots = roots * len(files)
        if len(roots) != len(files):
            raise UserError(f"{len(roots)} image folders for {len(files)} annotation files; "
                            "give one folder, or one per file")
        self.records, self.skipped_annotations = _read_records(roots, files)
        for reason in self.skipped_annotations[:_REASONS_LOGGED]:
            log.warning("skipping %s", reason)
        if len(self.skipped_annotations) > _REASONS_LOGGED:
            log.warning("skipping %d more malformed annotations",
                        len(self.skipped_annotations) - _REASONS_LOGGED)
        if train:
            # (image index, main person's bbox): the bbox centres and scales the crop.
            self.samples = [(i, tuple(ann.get("bbox") or ())) for i, record in enumerate(self.records)
                            for ann in record.annotations
                            if is_fully_labelled(ann, self.cfg.min_keypoints, self.cfg.min_area)]
        else:
            self.samples = [(i, None) for i in range(len(self.records))]
        if not self.samples:
            raise UserError(f"{', '.join(map(str, files))}: no usable sample (no person with at least "
                            f"{self.cfg.min_keypoints} keypoints and {self.cfg.min_area:g} pixels of area"
                            f"{f'; {len(self.skipped_annotations)} annotations skipped' if self.skipped_annotations else ''})")
        self.skipped = 0
        self._warned: set[Path] = set()
        self._rng = np.random.default_rng(seed)

    @property
    def head(self) -> HeadSpec:
        """The head whose targets the items carry."""
        return self.codec.spec

    def __len__(self) -> int:
        return len(self.samples)

    def reseed(self, seed: int) -> None:
        """Restart the augmentation generator (training does so before every sample)."""
        self._rng = np.random.default_rng(seed)

    def __getitem__(self, index: int) -> dict:
        sample = index
        for replaced in range(_MAX_REPLACEMENTS + 1):
            try:
                item = self.sample(sample, self._rng)
            except _DATA_ERRORS as err:
                self._report(sample, err)
                sample = int(self._rng.integers(len(self.samples)))
                continue
            item["skipped"] = replaced
            return item
        raise UserError(f"{_MAX_REPLACEMENTS + 1} broken samples in a row (last: "
                        f"{self.records[self.samples[sample][0]].path}); is the dataset readable?")

    def _report(self, sample: int, err: Exception) -> None:
        self.skipped += 1
        path = self.records[self.samples[sample][0]].path
        if path not in self._warned:  # one warning per broken file and process
            self._warned.add(path)
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            log.warning("skipping a sample of %s: %s", path, reason)

    def augmentation(self, sample: int, image_size: tuple[int, int], rng: np.random.Generator) -> Augmentation:
        """The transform of one sample for an image of (W, H) pixels."""
        bbox = self.samples[sample][1]
        if bbox is None:
            return fit_augmentation(image_size, self.cfg.crop_size)
        x, y, w, h = (float(v) for v in bbox)
        return sample_augmentation(rng, self.cfg, (x + w / 2, y + h / 2), h)

    def sample(self, sample: int, rng: np.random.Generator) -> dict:
        """Sample number ``sample`` with augmentation drawn from ``rng``; raises on broken data."""
        record = self.records[self.samples[sample][0]]
        image = read_annotated_image(record.path, *record.size)
        aug = self.augmentation(sample, image.shape[1::-1], rng)  # a malformed bbox raises here
        item = render_sample(image, record.annotations, aug, self.cfg, self.codec, colour=self.train)
        item.update(index=sample, image_id=record.image_id)
        return item


def render_sample(image: np.ndarray, annotations: Sequence[dict], aug: Augmentation, cfg: DataConfig,
                  codec: PafCodec, colour: bool = True) -> dict[str, torch.Tensor]:
    """Network input and targets of one image under one transform.

    Args:
        image: (H, W, 3) BGR uint8 source image.
        annotations: its COCO person annotations (crowds and unlabelled people included).
        aug: the transform; ``colour=False`` skips its colour jitter.
        codec: the model head's encoder.

    Returns:
        "image" (3, S, S) float32 RGB in [0, 1], "heatmaps" (K + 1, S/s, S/s), "pafs"
        (2L, S/s, S/s), "mask" (1, S/s, S/s) and "affine" (2, 3) float32 tensors.
    """
    height, width = image.shape[:2]
    crop = warp_image(image, aug)
    mask = warp_mask(loss_mask(list(annotations), height, width, cfg.min_keypoints, cfg.min_area), aug)
    keypoints = warp_keypoints(codec.keypoints(annotations), aug, codec.skeleton)
    heatmaps, pafs = codec.encode(keypoints, (cfg.crop_size, cfg.crop_size))
    return {
        "image": torch.from_numpy(to_network_input(crop, aug if colour else None)),
        "heatmaps": torch.from_numpy(heatmaps),
        "pafs": torch.from_numpy(pafs),
        "mask": torch.from_numpy(codec.encode_mask(mask)[None]),
        "affine": torch.from_numpy(aug.image_matrix.astype(np.float32)),
    }


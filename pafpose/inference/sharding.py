"""``pafpose infer`` over many processes and machines (``torchrun``), and reruns that skip what is done.

Under ``torchrun`` (``WORLD_SIZE`` > 1) every rank discovers the same sorted inputs and takes the
disjoint share ``inputs[rank::world_size]``; it writes its per-image files as usual and its COCO
results and manifest as parts (``.parts/rank<r>/``). When all ranks are done (a
``torch.distributed`` barrier over gloo, which needs no GPU) rank 0 merges the parts into one
``results.json``, ``images.json`` and ``manifest.json``, renumbering image ids that two parts
share. With ``--resume`` the inputs the manifest already lists as done are skipped and the
earlier results are merged with the new ones, so a killed or partly failed run is finished by
running it again.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..io.media import MediaInput
from ..io.outputs import LOCK_NAME, write_json

__all__ = ["Shard", "merge_parts"]

PARTS = ".parts"


@dataclass
class Shard:
    """This process's share of a run: ``rank`` of ``world`` ranks writing into ``out``."""

    out: Path
    rank: int = 0
    world: int = 1
    resume: bool = False

    @classmethod
    def from_environment(cls, out: Path, resume: bool = False) -> "Shard":
        """From torchrun's ``RANK`` and ``WORLD_SIZE`` (one rank when they are not set)."""
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        rank = int(os.environ.get("RANK", "0") or 0) if world > 1 else 0
        return cls(Path(out), rank, world, resume)

    @property
    def uses_parts(self) -> bool:
        return self.world > 1 or self.resume

    @property
    def part(self) -> Path:
        """Where this rank's COCO results and manifest go before the merge."""
        return self.out / PARTS / f"rank{self.rank}" if self.uses_parts else self.out

    @property
    def lock_name(self) -> str:
        return LOCK_NAME if self.world == 1 else f"{LOCK_NAME}.rank{self.rank}"

    def skip_done(self, inputs: list[MediaInput]) -> list[MediaInput]:
        """``inputs`` without those the manifest lists as finished without error."""
        done = {entry["input"] for entry in _manifest(self.out / "manifest.json") if "error" not in entry}
        return [item for item in inputs if str(item.path) not in done]

    def select(self, inputs: list[MediaInput]) -> list[MediaInput]:
        return inputs[self.rank::self.world]

    def finish(self) -> None:
        """Wait for every rank, then (rank 0) merge the parts into the final files."""
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", timeout=datetime.timedelta(hours=24))
            dist.barrier()
            if self.rank == 0:
                merge_parts(self.out, keep_previous=self.resume)
            dist.barrier()
            dist.destroy_process_group()
        elif self.resume:
            merge_parts(self.out, keep_previous=True)


def _manifest(path: Path) -> list[dict]:
    try:
        return list(json.loads(path.read_text())["inputs"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _load(path: Path) -> list:
    try:
        return list(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return []


def merge_parts(out: Path, keep_previous: bool) -> None:
    """Merge ``out/.parts/*/`` (and, with ``keep_previous``, the files already in ``out``) into
    ``results.json``, ``images.json`` and ``manifest.json``; the parts are removed."""
    parts = sorted((out / PARTS).glob("rank*"), key=lambda p: int(p.name[4:]))
    sources = ([out] if keep_previous else []) + parts
    images, results, used = [], [], set()
    next_id = 1
    manifest: dict[str, dict] = {}
    for folder in sources:
        renumber = {}
        for image in _load(folder / "images.json"):
            new = image["id"] if image["id"] not in used else max(next_id, max(used) + 1)
            renumber[image["id"]] = new
            used.add(new)
            next_id = max(next_id, new + 1)
            images.append({**image, "id": new})
        results += [{**r, "image_id": renumber.get(r["image_id"], r["image_id"])}
                    for r in _load(folder / "results.json")]
        for entry in _manifest(folder / "manifest.json"):
            manifest[entry["input"]] = entry  # a later run's entry replaces an earlier one's
    if images or any((p / "results.json").exists() for p in sources):
        write_json(out / "results.json", results)
        write_json(out / "images.json", images)
    if manifest:
        write_json(out / "manifest.json", {"inputs": sorted(manifest.values(), key=lambda e: e["input"])})
    shutil.rmtree(out / PARTS, ignore_errors=True)

"""``pafpose infer`` over many processes and machines (``torchrun``), and reruns that skip what is done.

Under ``torchrun`` (``WORLD_SIZE`` > 1) every rank discovers the same sorted inputs and takes the
disjoint share ``inputs[rank::world_size]``; it writes its per-image files as usual and its COCO
results and manifest as parts (``.parts/rank<r>/``). When all ranks are done (a
``torch.distributed`` barrier over gloo, which needs no GPU) rank 0 merges the parts into one
``results.json``, ``images.json`` and ``manifest.json``, renumbering image ids that two parts
share. With ``--resume`` the inputs the manifest already lists as done are skipped and the
earlier results are merged with the new ones, so a killed or partly failed run is finished by
running it again: the parts a killed run left behind are merged first (rank 0, before any rank
looks for what is done), and an input run again replaces everything the earlier runs recorded
for it, so no frame is counted twice. A resumed run must ask for the outputs the earlier one
wrote (format, rendering, tables, frame range): else the inputs it skips would lack them, and it
is refused in one line. A run without ``--resume`` starts over: parts left by a killed run are
removed.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Hashable

from ..errors import UserError
from ..io.discovery import MediaInput
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

    def start(self) -> None:
        """Before any input is chosen: with ``resume``, merge the parts a killed run left into the
        final files (rank 0; the others wait), else remove them. Call while holding the lock."""
        if self.world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", timeout=datetime.timedelta(hours=24))
            if self.rank == 0:
                self._tidy()
            dist.barrier()
        else:
            self._tidy()

    def _tidy(self) -> None:
        if not (self.out / PARTS).exists():
            return
        if self.resume:
            merge_parts(self.out, keep_previous=True)
        else:
            shutil.rmtree(self.out / PARTS, ignore_errors=True)

    def check_options(self, options: dict) -> None:
        """UserError unless ``options`` (the writer's) are those the earlier run recorded."""
        earlier = _read_json(self.out / "manifest.json")
        earlier = earlier.get("options") if isinstance(earlier, dict) else None
        if not isinstance(earlier, dict):
            return  # a manifest from before options were recorded
        changed = [key for key in options if key in earlier and earlier[key] != options[key]]
        if changed:
            was = ", ".join(_option_text(key, earlier[key]) for key in changed)
            now = ", ".join(_option_text(key, options[key]) for key in changed)
            raise UserError(f"--resume: {self.out} was written with {was}, and this run asks for {now}; "
                            "the inputs it skips would lack those outputs: resume with the same options, "
                            "or run without --resume to do every input again")

    def skip_done(self, inputs: list[MediaInput], group: Callable[[MediaInput], Hashable] | None = None
                  ) -> list[MediaInput]:
        """``inputs`` without those the manifest lists as finished without error. With ``group``
        (e.g. an image's folder when folders are sequences) a group is skipped only when all of it
        is done, and else run whole: its tracks and tables cover every frame again."""
        done = {entry["input"] for entry in _manifest(self.out / "manifest.json") if "error" not in entry}
        group = group or (lambda item: item)
        unfinished = {group(item) for item in inputs if str(item.path) not in done}
        return [item for item in inputs if group(item) in unfinished]

    def select(self, inputs: list[MediaInput], group: Callable[[MediaInput], Hashable] | None = None
               ) -> list[MediaInput]:
        """This rank's share: every ``world``-th input, or with ``group`` every ``world``-th group
        (a sequence must be tracked, and its table written, by one process)."""
        if group is None:
            return inputs[self.rank::self.world]
        order = {key: i for i, key in enumerate(dict.fromkeys(group(item) for item in inputs))}
        return [item for item in inputs if order[group(item)] % self.world == self.rank]

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


def _option_text(key: str, value) -> str:
    if isinstance(value, bool):
        return f"--{key}" if value else f"no --{key}"
    return f"--{key.replace('_', '-')} {value if value is not None else 'none'}"


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _manifest(path: Path) -> list[dict]:
    data = _read_json(path)
    try:
        return [entry for entry in data["inputs"] if isinstance(entry, dict) and "input" in entry]
    except (KeyError, TypeError):
        return []


def _load(path: Path) -> list:
    data = _read_json(path)
    return list(data) if isinstance(data, list) else []


def merge_parts(out: Path, keep_previous: bool) -> None:
    """Merge ``out/.parts/*/`` (and, with ``keep_previous``, the files already in ``out``) into
    ``results.json``, ``images.json`` and ``manifest.json``; the parts are removed.

    The folders are layers, oldest first (``out``, then the parts by rank): an input a layer's
    manifest lists replaces what the earlier layers recorded for it, its manifest entry, images
    and results alike, so an input run again (interrupted, failed, or resumed) is counted once.
    """
    parts = sorted((out / PARTS).glob("rank*"), key=lambda p: int(p.name[4:]) if p.name[4:].isdigit() else -1)
    layers = ([out] if keep_previous else []) + parts
    images: dict[int, dict] = {}  # id -> image record, in order
    results: dict[int, list] = {}  # image id -> its results
    manifest: dict[str, dict] = {}
    options = None
    for folder in layers:
        entries = _manifest(folder / "manifest.json")
        layer_images = _load(folder / "images.json")
        redone = {entry["input"] for entry in entries} | {image.get("source") for image in layer_images}
        for image_id in [i for i, image in images.items() if image.get("source") in redone]:
            del images[image_id]
            results.pop(image_id, None)
        renumber = {}
        for image in layer_images:
            new = image["id"] if image["id"] not in images else max(images) + 1
            renumber[image["id"]] = new
            images[new] = {**image, "id": new}
            results.setdefault(new, [])
        for r in _load(folder / "results.json"):
            image_id = renumber.get(r.get("image_id"))
            if image_id is not None:
                results[image_id].append({**r, "image_id": image_id})
        for entry in entries:
            manifest[entry["input"]] = entry  # a later run's entry replaces an earlier one's
        data = _read_json(folder / "manifest.json")
        if isinstance(data, dict) and isinstance(data.get("options"), dict):
            options = data["options"]
    if images or any((p / "results.json").exists() for p in layers):
        write_json(out / "results.json", [r for image_id in images for r in results[image_id]])
        write_json(out / "images.json", list(images.values()))
    if manifest:
        write_json(out / "manifest.json", {"inputs": sorted(manifest.values(), key=lambda e: e["input"]),
                                           **({"options": options} if options else {})})
    shutil.rmtree(out / PARTS, ignore_errors=True)

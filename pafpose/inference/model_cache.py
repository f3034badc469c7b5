"""An on-disk cache of converted networks (ONNX exports, OpenVINO IR, int8 models).

An entry is a folder named by the sha256 of its key (weights digest, format, precision, CPU,
runtime versions) holding the built files and ``entry.json``: the key itself and the sha256 of
every file. An entry is used only when its ``entry.json`` repeats the key and every file still
has its digest; anything else (a stale key, a truncated or flipped file, a crash mid-build) is
deleted and built again. Builds go to a private temporary folder renamed into place, so
concurrent processes (``torchrun`` ranks) never see a half-written entry; when two build the
same entry, the first rename wins and the other's copy is dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["ModelCache", "file_digest"]

_ENTRY = "entry.json"
_FORMAT = 1  # bump when the entry layout changes: old entries then rebuild


def file_digest(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelCache:
    """Entries under ``root`` (default: :func:`pafpose.inference.backends.default_cache_dir`)."""

    def __init__(self, root: str | Path | None = None):
        if root is None:
            from .backends import default_cache_dir

            root = default_cache_dir()
        self.root = Path(root)

    def folder(self, key: dict) -> Path:
        """Where the entry for ``key`` lives (whether or not it exists)."""
        text = json.dumps({"format": _FORMAT, **key}, sort_keys=True)
        return self.root / hashlib.sha256(text.encode()).hexdigest()[:32]

    def valid(self, key: dict, files: Sequence[str]) -> bool:
        """Whether the entry for ``key`` exists, matches the key and has intact ``files``."""
        folder = self.folder(key)
        try:
            entry = json.loads((folder / _ENTRY).read_text())
            if entry.get("key") != {"format": _FORMAT, **key}:
                return False
            return all(file_digest(folder / name) == entry["files"][name] for name in files)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False

    def get_or_build(self, key: dict, files: Sequence[str], build: Callable[[Path], None],
                     what: str = "conversion") -> Path:
        """The folder holding ``files`` for ``key``: the cached one if intact, else built now by
        ``build(folder)`` (which writes ``files`` into the folder it is given)."""
        folder = self.folder(key)
        if self.valid(key, files):
            return folder
        if folder.exists():
            print(f"pafpose: cache entry {folder} is stale or damaged: rebuilding", file=sys.stderr)
            shutil.rmtree(folder, ignore_errors=True)
        print(f"pafpose: {what}; cached in {self.root} for later runs", file=sys.stderr)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=self.root))
        try:
            build(tmp)
            digests = {name: file_digest(tmp / name) for name in files}
            entry = {"key": {"format": _FORMAT, **key}, "files": digests}
            (tmp / _ENTRY).write_text(json.dumps(entry, indent=1, sort_keys=True))
            try:
                os.rename(tmp, folder)
            except OSError:  # another process finished the same entry first: use theirs
                if not self.valid(key, files):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder

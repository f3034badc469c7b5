"""An on-disk cache of converted networks (ONNX exports, OpenVINO IR, int8 models).

An entry is a folder named by the sha256 of its key (weights digest, format, precision, CPU,
runtime versions) holding the built files and ``entry.json``: the key itself and the sha256 of
every file. An entry is used only when its ``entry.json`` repeats the key and every file still
has its digest; anything else (a stale key, a truncated or flipped file, a crash mid-build) is
deleted and built again. Builds go to a private temporary folder renamed into place, so
concurrent processes (``torchrun`` ranks) never see a half-written entry; when two build the
same entry, the first rename wins and the other's copy is dropped.

A cache that cannot be written (a read-only ``$HOME``, a full disk, a file where the folder
should be) never stops inference: the entry is built in a private temporary folder for this
process instead, with one line saying so, and a regular file squatting on an entry's place is
removed like any other damaged entry.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

__all__ = ["ModelCache", "default_cache_dir", "file_digest", "weights_digest"]

_ENTRY = "entry.json"
_FORMAT = 1  # bump when the entry layout changes: old entries then rebuild


def file_digest(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_digest(source: Any) -> str:
    """sha256 of a weights file, or of a model's config and parameters (the cache key's core)."""
    if isinstance(source, (str, Path)):
        return file_digest(Path(source))
    digest = hashlib.sha256()
    digest.update(repr(getattr(source, "cfg", type(source).__name__)).encode())
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in source.state_dict().items()}, buffer)
    digest.update(buffer.getvalue())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``$PAFPOSE_CACHE``, else ``$XDG_CACHE_HOME/pafpose``, else ``~/.cache/pafpose``."""
    if os.environ.get("PAFPOSE_CACHE"):
        return Path(os.environ["PAFPOSE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pafpose"


class ModelCache:
    """Entries under ``root`` (default: :func:`default_cache_dir`)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

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
        try:
            if folder.is_dir() and not folder.is_symlink():
                print(f"pafpose: cache entry {folder} is stale or damaged: rebuilding", file=sys.stderr)
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.exists() or folder.is_symlink():
                print(f"pafpose: {folder} is not a cache entry: replacing it", file=sys.stderr)
                folder.unlink()
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=self.root))
        except OSError as err:
            return self._build_privately(key, files, build, what, err)
        print(f"pafpose: {what}; cached in {self.root} for later runs", file=sys.stderr)
        try:
            self._build(tmp, key, files, build)
            try:
                os.rename(tmp, folder)
            except OSError:  # another process finished the same entry first: use theirs
                if not self.valid(key, files):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder

    @staticmethod
    def _build(folder: Path, key: dict, files: Sequence[str], build: Callable[[Path], None]) -> None:
        build(folder)
        digests = {name: file_digest(folder / name) for name in files}
        entry = {"key": {"format": _FORMAT, **key}, "files": digests}
        (folder / _ENTRY).write_text(json.dumps(entry, indent=1, sort_keys=True))

    def _build_privately(self, key: dict, files: Sequence[str], build: Callable[[Path], None], what: str,
                         err: OSError) -> Path:
        """Build into a temporary folder removed when the process ends (the cache is unwritable)."""
        reason = err.strerror or type(err).__name__
        print(f"pafpose: cannot write the model cache {self.root} ({reason}); {what} for this run "
              "only (set PAFPOSE_CACHE to a writable folder to keep it)", file=sys.stderr)
        tmp = Path(tempfile.mkdtemp(prefix="pafpose-model-"))
        atexit.register(shutil.rmtree, tmp, True)
        self._build(tmp, key, files, build)
        return tmp

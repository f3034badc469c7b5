"""Checkpoints: atomic saving, safe loading, and building a ready model from a file or name.

A checkpoint is a dict saved with ``torch.save``: "model" (state dict), "model_config" (dict),
"train_config" (dict), "iteration", and for training checkpoints the optimizer, scheduler,
scaler and RNG states and the data position. The model config's "head" (skeleton, stride,
target widths) says what the outputs mean; files from before it existed, with "skeleton" in the
model config and the stride and widths in the training data config, are upgraded on loading. Released weights may add "inference" (settings the
network was tuned for, e.g. ``{"input_height": 320}``) and "description" (what it was trained
on). Everything is plain tensors, numbers, strings, lists and dicts, so files load with
``weights_only=True`` (no arbitrary pickle code runs). Saved files also hold "sha256", a digest
of everything else, checked on loading: torch's zip reader does not notice flipped bytes in a
tensor, which would otherwise load as silently wrong weights. Files without one (written before
it existed, or by other tools) load unchecked.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from pathlib import Path

import torch

from ..config import from_dict
from ..errors import UserError
from .bundled import DEFAULT_WEIGHTS, WEIGHTS_DIR
from .outputs import ensure_folder

__all__ = ["WEIGHTS_DIR", "DEFAULT_WEIGHTS", "save_checkpoint", "load_checkpoint", "resolve_weights", "load_model",
           "model_from_checkpoint", "model_weights", "build_with_weights", "load_tensor_file", "mismatch_summary",
           "remove_stale_temporaries", "upgrade_checkpoint", "load_weights", "payload_digest",
           "DIGEST_KEY"]

#: The entry holding :func:`payload_digest` of the rest of a saved checkpoint.
DIGEST_KEY = "sha256"


def payload_digest(state: dict) -> str:
    """sha256 over every entry of ``state`` but :data:`DIGEST_KEY`: tensors by dtype, shape and
    bytes, containers in order, everything else by ``repr`` (all survive a save/load round trip)."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in state.items() if k != DIGEST_KEY})
    return digest.hexdigest()


def _feed(digest, value) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"tensor {tensor.dtype} {tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, dict):
        digest.update(f"dict {len(value)};".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):  # a tuple may come back as a list
        digest.update(f"list {len(value)};".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__} {value!r};".encode())


class _KeptWriteErrors:
    """A file whose write errors are kept: torch's zip writer turns them into a RuntimeError
    ("enforce fail ... file write failed") without the errno that says why."""

    def __init__(self, file) -> None:
        self.file, self.error = file, None

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.file.flush()


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write ``state`` and its digest to ``path`` atomically: a crash mid-write leaves the previous
    file intact. A failed write (full disk, read-only folder) raises OSError naming ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    state = {**state, DIGEST_KEY: payload_digest(state)}
    try:
        ensure_folder(path.parent)
        with open(tmp, "wb") as raw:
            f = _KeptWriteErrors(raw)
            try:
                torch.save(state, f)
            except RuntimeError:
                if f.error is None:
                    raise
                raise f.error from None
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


_TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files of :func:`save_checkpoint` whose writing process has died.

    A run killed mid-save leaves ``.<name>.<pid>.tmp`` (hundreds of MB for COCO models) that
    nothing else would ever remove; those of processes still running are being written.
    """
    removed = []
    for path in Path(folder).glob(".*.tmp"):
        match = _TEMPORARY.match(path.name)
        if match and not _running(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def load_tensor_file(path: Path, what: str = "checkpoint"):
    """``torch.load(path, weights_only=True)``; UserError in one line saying what the file is not.

    torch's own message for a foreign file is several lines of advice to disable the safe
    loader, which is the wrong advice for a file that is simply not a checkpoint.
    """
    with open(path, "rb") as f:
        head = f.read(2)
    if head != b"PK" and head[:1] != b"\x80":  # torch.save's zip archive, or a legacy pickle
        hint = " (an ONNX file: use the onnx backend)" if path.suffix.lower() == ".onnx" else ""
        raise UserError(f"{path}: not a PyTorch {what} file{hint}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(f"{path}: not a plain PyTorch {what}: it holds pickled Python objects (a whole "
                        "model object?), which pafpose does not execute; save a state_dict instead") from None
    except Exception as err:  # truncated zip and the like
        raise UserError(f"{path}: not a readable PyTorch {what} (truncated or corrupt: "
                        f"{type(err).__name__})") from None


def mismatch_summary(expected: dict, given: dict, shown: int = 3) -> str:
    """What differs between two state dicts, as counts and the first few keys of each kind."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    reshaped = [k for k in expected if k in given
                and tuple(expected[k].shape) != tuple(getattr(given[k], "shape", ()))]
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("of another shape", reshaped)):
        if keys:
            more = f", and {len(keys) - shown} more" if len(keys) > shown else ""
            parts.append(f"{len(keys)} {label}: {', '.join(keys[:shown])}{more}")
    return "; ".join(parts)


def resolve_weights(path_or_name: str | Path) -> Path:
    """A checkpoint path, or a bare bundled name (no suffix, no folder) -> WEIGHTS_DIR/<name>.pt."""
    path = Path(path_or_name)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path
    bundled = WEIGHTS_DIR / f"{path.name}.pt"
    if not bundled.exists():
        names = sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))
        raise UserError(f"{path_or_name}: no such checkpoint file or bundled weights "
                        f"(bundled: {', '.join(names) or 'none'})")
    return bundled


def load_checkpoint(path: str | Path) -> dict:
    """The dict of a checkpoint file; UserError naming the file when missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    state = load_tensor_file(path)
    if not isinstance(state, dict) or "model" not in state or "model_config" not in state:
        raise UserError(f"{path}: not a pafpose checkpoint (needs 'model' and 'model_config' entries)")
    stored = state.pop(DIGEST_KEY, None)
    if stored is not None and stored != payload_digest(state):
        raise UserError(f"{path}: corrupt: its contents no longer match the sha256 digest written "
                        "with it (damaged on disk or in a copy); copy or save it again")
    return upgrade_checkpoint(state)


_HEAD_FIELDS_IN_DATA = ("stride", "sigma", "limb_width")


def upgrade_checkpoint(state: dict) -> dict:
    """``state`` with configs written before the head spec moved into the model config.

    Those had ``model_config["skeleton"]`` and ``train_config["data"]`` holding stride, sigma and
    limb_width; all four now live in ``model_config["head"]`` (and the train config's
    ``model.head``). Current checkpoints are returned unchanged.
    """
    def upgraded_model(model: dict, data: dict) -> dict:
        if "head" in model:
            return model
        model = dict(model)
        head = {"skeleton": model.pop("skeleton")} if "skeleton" in model else {}
        head.update({k: data[k] for k in _HEAD_FIELDS_IN_DATA if k in data})
        return {**model, "head": head}

    train = state.get("train_config")
    data = dict((train or {}).get("data") or {})
    state = {**state, "model_config": upgraded_model(dict(state["model_config"]), data)}
    if isinstance(train, dict) and isinstance(train.get("model"), dict):
        state["train_config"] = {**train, "model": upgraded_model(train["model"], data),
                                 "data": {k: v for k, v in data.items() if k not in _HEAD_FIELDS_IN_DATA}}
    return state


def load_model(path_or_name: str | Path, device: str | torch.device = "cpu"):
    """(PoseNet in eval mode on ``device``, ModelConfig) from a checkpoint path or bundled name."""
    path = resolve_weights(path_or_name)
    return model_from_checkpoint(load_checkpoint(path), path, device)


def model_from_checkpoint(state: dict, path: str | Path, device: str | torch.device = "cpu"):
    """(PoseNet in eval mode on ``device``, ModelConfig) from a loaded checkpoint dict of ``path``."""
    weights = model_weights(state)
    model, cfg = build_with_weights(state["model_config"], weights, path)
    broken = [k for k, v in weights.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:  # checked once here, not as NaN maps for every image later
        raise UserError(f"{path}: the weights contain NaN or infinite values ({len(broken)} tensors, "
                        f"e.g. {broken[0]}; from a diverged training run?)")
    return model.to(device).eval(), cfg


def model_weights(state: dict) -> dict:
    """A checkpoint's network state dict, without the prefixes DDP ("module.") and
    torch.compile ("_orig_mod.") add to the names."""
    return {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in state["model"].items()}


def load_weights(model: torch.nn.Module, weights: dict, problem: str) -> None:
    """``model.load_state_dict(weights)``; when they do not fit, a UserError saying ``problem``
    with counts and the first few keys that differ."""
    try:
        model.load_state_dict(weights)
    except RuntimeError:
        raise UserError(f"{problem} ({mismatch_summary(model.state_dict(), weights)})") from None


def build_with_weights(model_config: dict, weights: dict, source: str | Path):
    """(model, ModelConfig): a network of ``model_config`` holding exactly ``weights``.

    Raises UserError naming ``source`` when the config is invalid or the weights do not fit it
    (with counts and the first few keys that differ), so a converter or a checkpoint whose
    layout disagrees with its architecture fails where it is read, not when it is used.
    """
    from ..models import ModelConfig, build_model

    try:
        cfg = from_dict(ModelConfig, dict(model_config), "model_config")
    except (UserError, TypeError) as err:
        raise UserError(f"{source}: bad model_config ({err})") from None
    model = build_model(cfg)
    load_weights(model, weights, f"{source}: weights do not match the {cfg.arch} architecture of its model_config")
    return model, cfg

"""Checkpoints: atomic saving, safe loading, and building a ready model from a file or name.

A checkpoint is a dict saved with ``torch.save``: "model" (state dict), "model_config" (dict),
"train_config" (dict), "iteration", and for training checkpoints the optimizer, scheduler,
scaler and RNG states and the data position. Released weights may add "inference" (settings the
network was tuned for, e.g. ``{"input_height": 320}``) and "description" (what it was trained
on). Everything is plain tensors, numbers, strings, lists and dicts, so files load with
``weights_only=True`` (no arbitrary pickle code runs).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import UserError

__all__ = ["WEIGHTS_DIR", "save_checkpoint", "load_checkpoint", "resolve_weights", "load_model",
           "model_from_checkpoint"]

#: Bundled weights: ``load_model("synthetic-small")`` reads ``WEIGHTS_DIR / "synthetic-small.pt"``.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write ``state`` to ``path`` atomically: a crash mid-write leaves the previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle errors, foreign formats: one line each
        raise UserError(f"{path}: not a readable pafpose checkpoint ({type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else ''})") from None
    if not isinstance(state, dict) or "model" not in state or "model_config" not in state:
        raise UserError(f"{path}: not a pafpose checkpoint (needs 'model' and 'model_config' entries)")
    return state


def load_model(path_or_name: str | Path, device: str | torch.device = "cpu"):
    """(PoseNet in eval mode on ``device``, ModelConfig) from a checkpoint path or bundled name."""
    path = resolve_weights(path_or_name)
    return model_from_checkpoint(load_checkpoint(path), path, device)


def model_from_checkpoint(state: dict, path: str | Path, device: str | torch.device = "cpu"):
    """(PoseNet in eval mode on ``device``, ModelConfig) from a loaded checkpoint dict of ``path``."""
    from .models import ModelConfig, build_model

    try:
        cfg = ModelConfig.from_dict(dict(state["model_config"]))
    except (UserError, TypeError) as err:
        raise UserError(f"{path}: bad model_config ({err})") from None
    model = build_model(cfg)
    weights = {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in state["model"].items()}
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        detail = " ".join(str(err).split())
        raise UserError(f"{path}: weights do not match the {cfg.arch} architecture in its model_config "
                        f"({detail[:300]})") from None
    return model.to(device).eval(), cfg

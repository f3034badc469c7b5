"""YAML or dict -> nested config dataclasses, rejecting unknown keys.

``load_config(TrainConfig, "configs/coco.yaml", overrides=["model.paf_stages=3"])`` reads the
file, applies ``dotted.key=value`` overrides (values parsed as YAML), and builds the dataclass
tree; a key that is not a field raises UserError naming the key and the file. Sections missing
from the file keep their defaults.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, Sequence

import yaml

from .errors import UserError

__all__ = ["from_dict", "to_dict", "load_config", "apply_overrides"]


def from_dict(cls: type, values: dict, source: str = "config", prefix: str = ""):
    """Build dataclass ``cls`` from ``values``; nested dataclass fields are built recursively."""
    if not isinstance(values, dict):
        raise UserError(f"{source}: {prefix or 'the top level'} must be a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise UserError(f"{source}: unknown key '{prefix}{key}' (known: {', '.join(sorted(known))})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            value = from_dict(hint, value or {}, source, f"{prefix}{key}.")
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except UserError as err:
        raise UserError(f"{source}: {err}") from None
    except (TypeError, ValueError) as err:
        raise UserError(f"{source}: bad value in section '{prefix.rstrip('.') or 'top level'}': {err}") from None


def to_dict(config) -> dict:
    """A config dataclass tree as plain dicts/lists (YAML- and checkpoint-friendly)."""
    def plain(value):
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(config)


def apply_overrides(values: dict, overrides: Sequence[str], source: str = "--set") -> dict:
    """Return a copy of ``values`` with ``a.b.c=value`` assignments applied (value parsed as YAML)."""
    import copy

    values = copy.deepcopy(values)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"{source}: expected KEY=VALUE, got {item!r}")
        node = values
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"{source}: {key}: '{part}' is not a section")
        node[leaf] = yaml.safe_load(raw)
    return values


def load_config(cls: type, path: str | Path | None = None, overrides: Sequence[str] = (),
                values: dict | None = None) -> Any:
    """Config ``cls`` from a YAML file (or ``values``) plus overrides."""
    source = str(path) if path is not None else "config"
    data: dict = dict(values or {})
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such config file")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise UserError(f"{path}: invalid YAML ({' '.join(str(err).split())})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise UserError(f"{path}: the top level must be a mapping")
        data.update(loaded or {})
    data = apply_overrides(data, overrides)
    return from_dict(cls, data, source)

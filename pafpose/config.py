"""YAML or dict -> nested config dataclasses, rejecting unknown keys.

``load_config(TrainConfig, "configs/coco.yaml", overrides=["model.paf_stages=3"])`` reads the
file, applies ``dotted.key=value`` overrides (values parsed as YAML), and builds the dataclass
tree; a key that is not a field raises UserError naming the key and the file. Sections missing
from the file keep their defaults. A dataclass may list renamed fields in a ``MOVED_KEYS`` class
attribute (old key -> new dotted key), so an old config says where its key went.

YAML is read with the 1.2 core schema's plain scalars, not PyYAML's YAML 1.1: ``1e-3`` is a
number (1.1 needs a dot, ``1.0e-3``, and gives the string "1e-3" otherwise) and only
true/false are booleans (1.1 also turns on/off/yes/no into booleans, so ``amp: off`` arrived as
False). Every value is then coerced to its field's type — "2e-4" to a float, 3.0 to an int,
"off" to False for a flag — and a value that does not fit is an error naming the key, as is
a NaN or infinite number (no setting means anything there).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Sequence

import yaml

from .errors import UserError

__all__ = ["from_dict", "to_dict", "load_config", "apply_overrides", "yaml_value"]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans and floats (see the module docstring)."""


_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    _FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))


def yaml_value(text: str):
    """Parse YAML text with the schema described in the module docstring."""
    return yaml.load(text, Loader=_Loader)


_TRUE = {"true", "on", "yes", "y", "1"}
_FALSE = {"false", "off", "no", "n", "0"}


def _coerce(value, hint, key: str, source: str):
    """``value`` as type ``hint`` (float, int, bool, str, X | None, list[X], tuple[X, ...], dict[K, V])."""
    def bad(expected: str):
        return UserError(f"{source}: {key}: expected {expected}, got {value!r}")

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options:
            try:
                return _coerce(value, option, key, source)
            except UserError:
                continue
        raise bad(" or ".join(getattr(o, "__name__", str(o)) for o in options))
    if origin is dict:
        if not isinstance(value, dict):
            raise bad("a mapping")
        key_type, value_type = args or (Any, Any)
        return {_coerce(k, key_type, key, source): _coerce(v, value_type, f"{key}.{k}", source)
                for k, v in value.items()}
    if origin in (list, tuple):
        items = [value] if isinstance(value, str) and origin is list else value
        if not isinstance(items, (list, tuple)):
            raise bad("a list")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(items) != len(args):
                raise bad(f"{len(args)} values")
            return tuple(_coerce(v, a, key, source) for v, a in zip(items, args))
        item_type = args[0] if args else Any
        return origin(_coerce(v, item_type, key, source) for v in items)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in _TRUE | _FALSE:
            return str(value).lower() in _TRUE
        raise bad("true or false")
    if hint is float:
        if isinstance(value, bool):
            raise bad("a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad("a number") from None
        if not math.isfinite(number):  # no setting means anything at NaN or infinity
            raise bad("a finite number")
        return number
    if hint is int:
        if isinstance(value, bool):
            raise bad("an integer")
        if isinstance(value, int):
            return value
        try:
            number = float(value)  # "2e5", 3.0
        except (TypeError, ValueError):
            raise bad("an integer") from None
        if not number.is_integer():
            raise bad("an integer")
        return int(number)
    if hint is str:
        if isinstance(value, bool):  # a YAML 1.1 reader upstream (e.g. a checkpoint's dict)
            return "on" if value else "off"
        if isinstance(value, (int, float, str)):
            return str(value)
        raise bad("a string")
    return value


@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[dict, dict]:
    """(type hints, init fields by name) of a dataclass; cached, as resolving hints is slow."""
    return typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls) if f.init}


def from_dict(cls: type, values: dict, source: str = "config", prefix: str = ""):
    """Build dataclass ``cls`` from ``values``; nested dataclass fields are built recursively."""
    if not isinstance(values, dict):
        raise UserError(f"{source}: {prefix or 'the top level'} must be a mapping, got {type(values).__name__}")
    hints, known = _fields(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            moved = getattr(cls, "MOVED_KEYS", {}).get(key)
            if moved:
                raise UserError(f"{source}: '{prefix}{key}' is now '{moved}'")
            raise UserError(f"{source}: unknown key '{prefix}{key}' (known: {', '.join(sorted(known))})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            value = from_dict(hint, value or {}, source, f"{prefix}{key}.")
        else:
            value = _coerce(value, hint, f"{prefix}{key}", source)
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
        node[leaf] = yaml_value(raw)
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
            loaded = yaml_value(path.read_text())
        except yaml.YAMLError as err:
            raise UserError(f"{path}: invalid YAML ({' '.join(str(err).split())})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise UserError(f"{path}: the top level must be a mapping")
        data.update(loaded or {})
    data = apply_overrides(data, overrides)
    return from_dict(cls, data, source)

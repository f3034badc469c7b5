"""Reading a TensorFlow 1 frozen ``GraphDef`` (``.pb``) without TensorFlow.

Only what a converter needs: each node's name, op, inputs and attributes, with constant tensors
decoded to numpy. Field numbers are those of TensorFlow's ``graph.proto``, ``node_def.proto``,
``attr_value.proto``, ``tensor.proto`` and ``tensor_shape.proto``:

- GraphDef: node = 1 (NodeDef).
- NodeDef: name = 1, op = 2, input = 3 (repeated string), attr = 5 (map entries: key = 1,
  value = 2 an AttrValue).
- AttrValue: list = 1, s = 2, i = 3, f = 4, b = 5, type = 6, shape = 7, tensor = 8.
  ListValue: s = 2, i = 3 (packed), f = 4 (packed), b = 5, type = 6.
- TensorProto: dtype = 1, tensor_shape = 2 (TensorShapeProto: dim = 2, Dim.size = 1),
  tensor_content = 4 (raw little-endian bytes), float_val = 5, double_val = 6, int_val = 7,
  int64_val = 10; a single ``*_val`` with a larger shape fills the tensor (TF's splat encoding).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import UserError
from .protowire import fields, packed_varints

__all__ = ["TfNode", "read_graphdef", "parse_tensor"]

# TensorFlow DataType enum values of the dtypes a pose network's constants use.
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 19: np.float16, 10: np.bool_}
_VAL_FIELDS = {5: np.float32, 6: np.float64, 7: np.int32, 10: np.int64, 13: np.float16}


@dataclass
class TfNode:
    """One NodeDef: ``attrs`` maps attribute names to str / int / float / bool / list / ndarray."""

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


def _signed(value: int) -> int:
    """Two's complement of a 64-bit varint (negative int64 values are sent as huge unsigned)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def parse_tensor(buf: memoryview) -> np.ndarray:
    """A TensorProto -> numpy array of its dtype and shape."""
    dtype_code, dims, content = 1, [], None
    values: list[np.ndarray] = []
    for number, wire, value in fields(buf):
        if number == 1:
            dtype_code = value
        elif number == 2:
            for n, _, dim in fields(value):
                if n == 2:
                    dims.append(next((_signed(v) for k, _, v in fields(dim) if k == 1), 0))
        elif number == 4:
            content = bytes(value)
        elif number in _VAL_FIELDS:
            kind = np.dtype(_VAL_FIELDS[number])
            if kind.kind == "f" and number != 13:
                values.append(np.frombuffer(value, dtype=kind.newbyteorder("<")) if wire == 2
                              else np.frombuffer(bytes(value), dtype=kind.newbyteorder("<")))
            else:
                values.append(np.array([_signed(v) for v in packed_varints(value, wire)]))
    if dtype_code not in _DTYPES:
        raise ValueError(f"unsupported tensor dtype code {dtype_code}")
    dtype = np.dtype(_DTYPES[dtype_code])
    size = int(np.prod(dims)) if dims else 1
    if content is not None:
        array = np.frombuffer(content, dtype=dtype.newbyteorder("<")).astype(dtype)
    elif values:
        array = np.concatenate(values).astype(dtype)
        if array.size == 1 and size > 1:
            array = np.full(size, array[0], dtype)
    else:
        array = np.zeros(size, dtype)
    if array.size != size:
        raise ValueError(f"tensor of shape {dims} holds {array.size} values")
    return array.reshape(dims)


def _parse_list(buf: memoryview) -> list:
    out: list = []
    for number, wire, value in fields(buf):
        if number == 2:
            out.append(bytes(value).decode("utf-8", errors="replace"))
        elif number in (3, 6):
            out += [_signed(v) for v in packed_varints(value, wire)]
        elif number == 4:
            raw = bytes(value)
            out += list(struct.unpack(f"<{len(raw) // 4}f", raw))
        elif number == 5:
            out += [bool(v) for v in packed_varints(value, wire)]
    return out


def _parse_attr(buf: memoryview) -> Any:
    for number, wire, value in fields(buf):
        if number == 1:
            return _parse_list(value)
        if number == 2:
            return bytes(value).decode("utf-8", errors="replace")
        if number in (3, 6):
            return _signed(value)
        if number == 4:
            return struct.unpack("<f", bytes(value))[0]
        if number == 5:
            return bool(value)
        if number == 8:
            return parse_tensor(value)
    return None  # shapes, functions and placeholders: not needed by a converter


def _parse_node(buf: memoryview) -> TfNode:
    node = TfNode(name="", op="")
    for number, wire, value in fields(buf):
        if number == 1:
            node.name = bytes(value).decode("utf-8")
        elif number == 2:
            node.op = bytes(value).decode("utf-8")
        elif number == 3:
            node.inputs.append(bytes(value).decode("utf-8"))
        elif number == 5:
            key, attr = None, None
            for n, _, v in fields(value):
                if n == 1:
                    key = bytes(v).decode("utf-8")
                elif n == 2:
                    attr = v
            if key is not None and attr is not None:
                node.attrs[key] = _parse_attr(attr)
    return node


def read_graphdef(path: str | Path) -> dict[str, TfNode]:
    """Node name -> TfNode of a binary GraphDef file, in file order.

    Raises UserError naming the file when it is missing or is not a GraphDef.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    nodes: dict[str, TfNode] = {}
    try:
        buf = memoryview(path.read_bytes())
        for number, wire, value in fields(buf):
            if number == 1 and wire == 2:
                node = _parse_node(value)
                if not node.name or not node.op:
                    raise ValueError("a node without name or op")
                nodes[node.name] = node
    except (ValueError, IndexError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a readable TensorFlow GraphDef ({err})") from None
    if not nodes:
        raise UserError(f"{path}: no graph nodes found (not a TensorFlow .pb GraphDef?)")
    return nodes

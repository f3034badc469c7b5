"""The protobuf wire format, read without a schema: enough to walk Caffe and TensorFlow files.

A message is a sequence of (field number, wire type, value) records; a nested message, a string
and a packed repeated field are all length-delimited bytes (wire type 2) that the caller knows how
to read. Reading the format directly keeps Caffe, TensorFlow and their generated classes out of
pafpose's dependencies.
"""

from __future__ import annotations

from typing import Iterator

__all__ = ["fields", "packed_varints", "varint"]


def varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """(value, next position) of the base-128 varint at ``pos``."""
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield (field number, wire type, value) of a message; value is an int or a memoryview.

    Raises ValueError on an unknown wire type or a record running past the end of ``buf``.
    """
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > end:
            raise ValueError("message truncated")
        yield number, wire, value


def packed_varints(value: int | memoryview, wire: int) -> list[int]:
    """The integers of a repeated varint field record: one (wire 0) or packed (wire 2)."""
    if wire == 0:
        return [value]
    out, pos = [], 0
    while pos < len(value):
        v, pos = varint(value, pos)
        out.append(v)
    return out

"""What counts as a stream of chunks, and what one chunk carries.

Only iterators (generators, async generators, objects with `__next__` / `__anext__`) are
streamed item by item; any other value (a dict, a list, a string) is one chunk. A chunk object
with `.data` and `.is_final` (the original Snakepit's `StreamChunk`, or any look-alike), or a dict
of exactly `data` / `is_final` (and optional `metadata`), sends its `data`; a final chunk ends
the stream.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

from .codec import _BIG_DIGITS, _encode

__all__ = ["StreamChunk", "chunk_packet", "end_packet", "is_stream", "unwrap_chunk"]

#: Values that are never a chunk wrapper: one type check instead of the attribute probes.
SCALARS = frozenset((int, float, bool, str, type(None)))
_SAFE_INT = 10**15  # below the codec's 16-digit check: exactly its bytes and flags
PLAIN_TYPES = frozenset((int, float, bool, str, dict, list, tuple, bytes, type(None)))
_CHUNK_KEYS = frozenset(("data", "is_final"))
_CHUNK_KEYS_MAX = frozenset(("data", "is_final", "metadata"))


class StreamChunk:
    """One chunk of a streaming tool: its data, and whether it is the last one."""

    __slots__ = ("data", "is_final", "metadata")

    def __init__(self, data: Any, is_final: bool = False, metadata: Optional[dict] = None) -> None:
        self.data = data
        self.is_final = is_final
        self.metadata = metadata or {}

    def __repr__(self) -> str:
        return f"StreamChunk(data={self.data!r}, is_final={self.is_final!r})"


def is_stream(value: Any) -> bool:
    """True for iterators and async iterators, false for plain values and containers."""
    if type(value) in PLAIN_TYPES or isinstance(value, (str, bytes, bytearray, dict, list, tuple)):
        return False
    return hasattr(value, "__next__") or hasattr(value, "__anext__")


def unwrap_chunk(item: Any) -> Tuple[Any, bool]:
    """(data to send, is final) for one yielded item."""
    if isinstance(item, dict):
        keys = item.keys()
        if _CHUNK_KEYS <= keys <= _CHUNK_KEYS_MAX and isinstance(item["is_final"], bool):
            return item["data"], item["is_final"]
        return item, False
    if hasattr(item, "is_final") and hasattr(item, "data") and not isinstance(item, type):
        return item.data, bool(item.is_final)
    return item, False


def scalar_json(data: Any) -> Optional[bytes]:
    """`data` as the general codec would encode it, for plain scalars; None when the value needs
    the codec (containers, typed values, big integers, non-finite floats, long strings)."""
    kind = type(data)
    if kind is int:
        if not -_SAFE_INT < data < _SAFE_INT:
            return None
    elif kind is float:
        if not math.isfinite(data):
            return None
    elif kind is str:
        if len(data) > 4096:
            return None
    elif kind is not bool and data is not None:
        return None
    text = _encode(data).encode("utf-8")
    if kind is not int and _BIG_DIGITS.search(text):
        return None  # the codec would mark the packet typed
    return text


def chunk_packet(call_id: int, seq: int, data: Any) -> Optional[bytes]:
    """The JSON of a stream message carrying a plain scalar, encoded without the general codec
    (the same bytes it would produce); None when `data` needs the codec."""
    if type(data) is int and -_SAFE_INT < data < _SAFE_INT:  # the common case: no encoder
        return b'{"k":3,"id":%d,"msg":{"data":%d,"seq":%d}}' % (call_id, data, seq)
    text = scalar_json(data)
    if text is None:
        return None
    return b'{"k":3,"id":%d,"msg":{"data":%s,"seq":%d}}' % (call_id, text, seq)


def end_packet(call_id: int, result: Any, duration_us: int) -> Optional[bytes]:
    """The JSON of a successful unary END with a plain scalar result, as the codec would write it."""
    if type(result) is int and -_SAFE_INT < result < _SAFE_INT:  # the common case: no encoder
        return b'{"k":4,"id":%d,"msg":{"result":%d,"durationUs":%d}}' % (call_id, result, duration_us)
    text = scalar_json(result)
    if text is None:
        return None
    return b'{"k":4,"id":%d,"msg":{"result":%s,"durationUs":%d}}' % (call_id, text, duration_us)

"""The schema of an Arrow IPC buffer, read from its schema message (stream) or footer (file).

The Python twin of src/bridge/arrow-schema.ts: only the flatbuffer tables the schema needs are
read, every offset bounds-checked, so bad bytes raise ArrowIPCError (an InvalidArgument) naming
what was wrong, never a crash or a runaway allocation. Types are spelled as on the host.
"""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Optional

from .errors import InvalidArgument

__all__ = ["ArrowIPCError", "parse_schema"]

_MAX_DEPTH = 64
_MAX_FIELDS = 100_000
_UNITS = ["s", "ms", "us", "ns"]
_KINDS = ["none", "schema", "dictionary batch", "record batch", "tensor", "sparse tensor"]


class ArrowIPCError(InvalidArgument, ValueError):
    """Bytes that are not a valid Arrow IPC buffer (crosses the wire as invalid_argument)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not a valid Arrow IPC buffer: {what}", field="arrow")


class _Flat:
    """Bounds-checked flatbuffer reads over one message's metadata."""

    def __init__(self, buf: memoryview) -> None:
        self.b = buf
        self.fields = self.text = 0

    def _need(self, at: int, n: int, what: str) -> None:
        if not (0 <= at and at + n <= len(self.b)):
            raise ArrowIPCError(f"{what} at offset {at} runs past the {len(self.b)}-byte metadata")

    def u32(self, at: int, what: str) -> int:
        self._need(at, 4, what)
        return struct.unpack_from("<I", self.b, at)[0]

    def ref(self, at: int, what: str) -> int:
        return at + self.u32(at, what)

    def field(self, t: int, i: int) -> int:
        self._need(t, 4, "table")
        vt = t - struct.unpack_from("<i", self.b, t)[0]
        self._need(vt, 4, "vtable")
        size = struct.unpack_from("<H", self.b, vt)[0]
        if 4 + 2 * i + 2 > size:
            return 0
        self._need(vt + 4 + 2 * i, 2, "vtable entry")
        off = struct.unpack_from("<H", self.b, vt + 4 + 2 * i)[0]
        return t + off if off else 0

    def int(self, t: int, i: int, fmt: str, default: int) -> int:
        p = self.field(t, i)
        if not p:
            return default
        self._need(p, struct.calcsize(fmt), "scalar")
        return struct.unpack_from("<" + fmt, self.b, p)[0]

    def str(self, t: int, i: int, what: str) -> Optional[str]:
        p = self.field(t, i)
        if not p:
            return None
        s = self.ref(p, what)
        n = self.u32(s, what)
        self._need(s + 4, n, what)
        self.text += n  # strings re-pointing at the same bytes could decode gigabytes from a small buffer
        if self.text > 2 * len(self.b) + 65536:
            raise ArrowIPCError("its strings add up to more than the metadata holds")
        return bytes(self.b[s + 4 : s + 4 + n]).decode("utf-8", "replace")

    def tables(self, t: int, i: int, what: str) -> List[int]:
        p = self.field(t, i)
        if not p:
            return []
        v = self.ref(p, what)
        n = self.u32(v, what)
        self._need(v + 4, n * 4, f"{what} ({n} entries)")
        self.fields += n
        if self.fields > _MAX_FIELDS:
            raise ArrowIPCError(f"more than {_MAX_FIELDS} fields")
        return [self.ref(v + 4 + 4 * k, what) for k in range(n)]

    def table(self, t: int, i: int) -> int:
        p = self.field(t, i)
        return self.ref(p, "table") if p else 0


def _int_name(f: _Flat, t: int) -> str:
    bits = f.int(t, 0, "i", 0)
    if bits not in (8, 16, 32, 64):
        raise ArrowIPCError(f"integer of {bits} bits")
    return f"{'int' if f.int(t, 1, 'B', 0) else 'uint'}{bits}"


def _type_name(f: _Flat, tid: int, t: int) -> str:
    def unit(i: int, d: int) -> str:
        u = f.int(t, i, "h", d)
        return _UNITS[u] if 0 <= u < 4 else "?"

    if tid == 2:
        return _int_name(f, t)
    if tid == 3:
        p = f.int(t, 0, "h", 0)
        return ["float16", "float32", "float64"][p] if 0 <= p < 3 else "float?"
    if tid == 7:
        return f"decimal{f.int(t, 2, 'i', 128)}({f.int(t, 0, 'i', 0)}, {f.int(t, 1, 'i', 0)})"
    if tid == 8:
        return "date32[day]" if f.int(t, 0, "h", 1) == 0 else "date64[ms]"
    if tid == 9:
        return f"time{f.int(t, 1, 'i', 32)}[{unit(0, 1)}]"
    if tid == 10:
        tz = f.str(t, 1, "timezone")
        return f"timestamp[{unit(0, 0)}{', ' + tz if tz else ''}]"
    if tid == 11:
        k = f.int(t, 0, "h", 0)
        return f"interval[{['year_month', 'day_time', 'month_day_nano'][k] if 0 <= k < 3 else '?'}]"
    if tid == 14:
        return f"{'dense' if f.int(t, 0, 'h', 0) else 'sparse'}_union"
    if tid == 15:
        return f"fixed_size_binary[{f.int(t, 0, 'i', 0)}]"
    if tid == 16:
        return f"fixed_size_list[{f.int(t, 0, 'i', 0)}]"
    if tid == 18:
        return f"duration[{unit(0, 1)}]"
    simple = {1: "null", 4: "binary", 5: "utf8", 6: "bool", 12: "list", 13: "struct", 17: "map", 19: "large_binary",
              20: "large_utf8", 21: "large_list", 22: "run_end_encoded", 23: "binary_view", 24: "utf8_view",
              25: "list_view", 26: "large_list_view"}
    if tid in simple:
        return simple[tid]
    raise ArrowIPCError(f"unknown type id {tid}")


def _field(f: _Flat, t: int, depth: int) -> Dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise ArrowIPCError(f"fields nested deeper than {_MAX_DEPTH}")
    tid = f.int(t, 2, "B", 0)
    out: Dict[str, Any] = {
        "name": f.str(t, 0, "field name") or "",
        "type": _type_name(f, tid, f.table(t, 3) if tid else 0),
        "nullable": f.int(t, 1, "B", 0) != 0,
    }
    d = f.table(t, 4)
    if d:
        index = f.table(d, 1)
        out["dictionary"] = {"id": f.int(d, 0, "q", 0), "indexType": _int_name(f, index) if index else "int32",
                             "ordered": f.int(d, 2, "B", 0) != 0}
    children = f.tables(t, 5, "children")
    if children:
        out["children"] = [_field(f, c, depth + 1) for c in children]
    return out


def _locate(b: memoryview) -> tuple:
    n = len(b)
    if n >= 6 and bytes(b[:6]) == b"ARROW1":
        if n < 18 or bytes(b[n - 6 :]) != b"ARROW1":
            raise ArrowIPCError(f'truncated file: {n} bytes and no closing "ARROW1" magic')
        length = struct.unpack_from("<i", b, n - 10)[0]
        if length <= 0 or length > n - 18:
            raise ArrowIPCError(f"footer length {length} does not fit the {n}-byte file (truncated or corrupt)")
        return b[n - 10 - length : n - 10], "file"
    if n < 8:
        raise ArrowIPCError(f"truncated: {n} bytes cannot hold a schema message")
    at, length = 4, struct.unpack_from("<i", b, 0)[0]
    if length == -1:
        at, length = 8, struct.unpack_from("<i", b, 4)[0]
    elif length < 8 or length > n:
        raise ArrowIPCError(f'wrong magic: starts with 0x{bytes(b[:4]).hex()}, expected the continuation marker 0xffffffff or "ARROW1"')
    if length <= 0 or at + length > n:
        raise ArrowIPCError(f"schema message length {length} does not fit the {n - at} bytes left (truncated or corrupt)")
    return b[at : at + length], "stream"


def parse_schema(data: Any) -> Dict[str, Any]:
    """The schema of an Arrow IPC buffer (stream or file format), as the host spells it."""
    meta, fmt = _locate(memoryview(data).cast("B"))
    f = _Flat(meta)
    root = f.ref(0, "message")
    if fmt == "stream":
        kind = f.int(root, 1, "B", 0)
        if kind != 1:
            raise ArrowIPCError(f"the first message is a {_KINDS[kind] if kind < len(_KINDS) else f'kind {kind}'}, not a schema")
    schema = f.table(root, 2 if fmt == "stream" else 1)
    if not schema:
        raise ArrowIPCError(f"the {'schema message' if fmt == 'stream' else 'footer'} has no schema")
    if f.int(schema, 0, "h", 0) != 0:
        raise ArrowIPCError("big-endian data is not supported")
    out: Dict[str, Any] = {"format": fmt, "fields": [_field(f, t, 0) for t in f.tables(schema, 1, "fields")]}
    kv = f.tables(schema, 2, "metadata")
    if kv:
        out["metadata"] = {f.str(t, 0, "key") or "": f.str(t, 1, "value") or "" for t in kv}
    return out

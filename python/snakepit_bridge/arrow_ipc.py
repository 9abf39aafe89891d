"""Arrow IPC across the bridge (the Python half of src/bridge/arrow.ts and arrow-rows.ts).

An Arrow IPC buffer travels like bytes (shared memory above the threshold, else an attachment)
with its schema in the packet. A tool receives a pyarrow.Table read over the same memory when
pyarrow is importable, else an `ArrowIPC`: `.schema` (read from the schema message), `.num_rows`
(from the record batch headers), `.buffer` (a memoryview over the mapping, no copy). A tool may
return a pyarrow Table / RecordBatch / RecordBatchReader or an `ArrowIPC(bytes)`; the host gets
an `ArrowIPC` back. Every offset is bounds-checked (arrow_schema.py): bad bytes raise
ArrowIPCError naming what was wrong.
"""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Optional

from . import shm
from .arrow_schema import ArrowIPCError, _Flat, parse_schema

__all__ = ["ArrowIPC", "ArrowIPCError", "parse_schema", "pyarrow"]

_pa: Any = None


def pyarrow() -> Any:
    """pyarrow if importable (imported on first use), else None."""
    global _pa
    if _pa is None:
        try:
            import pyarrow as pa  # type: ignore

            _pa = pa
        except ImportError:
            _pa = False
    return _pa or None


def _count_rows(b: memoryview) -> int:
    n = len(b)
    file = n >= 18 and bytes(b[:6]) == b"ARROW1"
    end = n - 10 - struct.unpack_from("<i", b, n - 10)[0] if file else n  # a file's messages stop at its footer
    at, rows = (8 if file else 0), 0
    while at + 4 <= end:
        length = struct.unpack_from("<i", b, at)[0]
        at += 4
        if length == -1:
            if at + 4 > end:
                break
            length = struct.unpack_from("<i", b, at)[0]
            at += 4
        if length == 0:
            break  # end of stream
        if length < 0 or at + length > end:
            raise ArrowIPCError(f"message length {length} at offset {at} runs past the end ({end} bytes)")
        f = _Flat(b[at : at + length])
        msg = f.ref(0, "message")
        body = f.int(msg, 3, "q", 0)
        batch = f.table(msg, 2) if f.int(msg, 1, "B", 0) == 3 else 0
        rows += f.int(batch, 0, "q", 0) if batch else 0
        if body < 0 or at + length + body > end:
            raise ArrowIPCError(f"a message body of {body} bytes at offset {at + length} runs past the end ({end} bytes)")
        at += length + body
    return rows


class ArrowIPC:
    """An Arrow IPC buffer with its schema; `.buffer` is a memoryview over the bytes (no copy)."""

    __slots__ = ("buffer", "schema")

    def __init__(self, data: Any, schema: Optional[Dict[str, Any]] = None) -> None:
        self.buffer = memoryview(data).cast("B")
        self.schema = schema if schema is not None else parse_schema(self.buffer)

    @property
    def column_names(self) -> List[str]:
        return [f["name"] for f in self.schema["fields"]]

    @property
    def num_rows(self) -> int:
        """Rows in the record batches: their headers summed, the bodies never read."""
        return _count_rows(self.buffer)

    def to_pyarrow(self) -> Any:
        """A pyarrow.Table over the same memory (needs pyarrow)."""
        return read_table(self.buffer)

    def __len__(self) -> int:
        return self.buffer.nbytes

    def __repr__(self) -> str:
        cols = ", ".join(f"{f['name']}: {f['type']}" for f in self.schema["fields"])
        return f"ArrowIPC({self.buffer.nbytes} bytes, {self.schema['format']}: {cols})"


def read_table(buf: Any) -> Any:
    """A pyarrow.Table over `buf` (stream or file format), reading the memory in place."""
    pa = pyarrow()
    source = pa.py_buffer(buf)
    if bytes(memoryview(buf)[:6]) == b"ARROW1":
        return pa.ipc.open_file(source).read_all()
    return pa.ipc.open_stream(source).read_all()


def revive(data: Any) -> Any:
    """What a tool receives for an Arrow argument."""
    ipc = ArrowIPC(data)  # validates the bytes before pyarrow sees them
    return read_table(ipc.buffer) if pyarrow() is not None else ipc


def ipc_of(obj: Any) -> Optional[Any]:
    """The IPC bytes of an ArrowIPC or a pyarrow Table / RecordBatch / RecordBatchReader, else None."""
    if isinstance(obj, ArrowIPC):
        return obj.buffer
    pa = pyarrow() if type(obj).__module__.startswith("pyarrow") else None
    if pa is None or not isinstance(obj, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, obj.schema) as writer:
        if isinstance(obj, pa.RecordBatchReader):
            for batch in obj:
                writer.write_batch(batch)
        else:
            writer.write(obj)
    return memoryview(sink.getvalue())


def to_wire(obj: Any, attachments: List[bytes]) -> Optional[Dict[str, Any]]:
    """The typed value for an Arrow result (shared memory when big enough), else None."""
    ipc = ipc_of(obj)
    if ipc is None:
        return None
    out: Dict[str, Any] = {"__snakepit__": "arrow", "schema": parse_schema(ipc)}
    handle = shm.export(ipc)
    if handle:
        out["shm"] = handle
    else:
        attachments.append(bytes(ipc))
        out["ref"] = len(attachments) - 1
    return out

"""Connect-style envelopes over a pipe: 1 flag byte, 4-byte big-endian length, payload.

A JSON packet may be preceded by attachment envelopes (raw bytes referenced from the packet by
index), so bulk data never travels as base64 JSON. See docs/wire.md.
"""

from __future__ import annotations

import io
import os
import struct
import threading
from typing import List, Optional, Sequence, Tuple

__all__ = [
    "FLAG_JSON",
    "FLAG_TYPED",
    "FLAG_ATTACHMENT",
    "FrameReader",
    "FrameWriter",
    "ProtocolError",
]

FLAG_JSON = 0x00
FLAG_TYPED = 0x10  # the JSON packet holds typed values ("__snakepit__" objects)
FLAG_ATTACHMENT = 0x80
MAX_FRAME = 1 << 31

_HEADER = struct.Struct(">BI")


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid envelope."""


class FrameReader:
    """Reads envelopes; returns (flags, payload, attachments) per JSON packet."""

    def __init__(self, fd: int) -> None:
        self._file = io.open(fd, "rb", buffering=1 << 16, closefd=False)

    def read_packet(self) -> Optional[Tuple[int, bytes, List[bytes]]]:
        """The next packet, or None at end of input (the host is gone)."""
        attachments: List[bytes] = []
        read = self._file.read
        while True:
            header = read(5)
            if len(header) < 5:
                return None
            flags, length = _HEADER.unpack(header)
            if length > MAX_FRAME:
                raise ProtocolError(f"frame of {length} bytes is over the limit")
            payload = read(length) if length else b""
            if len(payload) < length:
                return None
            if flags & FLAG_ATTACHMENT:
                attachments.append(payload)
                continue
            return flags, payload, attachments


class FrameWriter:
    """Writes packets atomically (attachments then JSON) from any thread."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def write_packet(
        self, payload: bytes, attachments: Sequence[bytes] = (), typed: bool = False
    ) -> None:
        flags = FLAG_TYPED if typed else FLAG_JSON
        if attachments:
            parts: List[bytes] = []
            for blob in attachments:
                parts.append(_HEADER.pack(FLAG_ATTACHMENT, len(blob)))
                parts.append(blob)
            parts.append(_HEADER.pack(flags, len(payload)))
            parts.append(payload)
            with self._lock:
                for part in parts:
                    self._write_all(part)
            return
        data = _HEADER.pack(flags, len(payload)) + payload
        with self._lock:
            self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

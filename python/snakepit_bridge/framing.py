"""Connect-style envelopes over a pipe: 1 flag byte, 4-byte big-endian length, payload.

A JSON packet may be preceded by attachment envelopes (raw bytes referenced from the packet by
index), so bulk data never travels as base64 JSON. See docs/wire.md.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

from .batch_writing import BatchWriting

__all__ = [
    "FLAG_JSON",
    "FLAG_TYPED",
    "FLAG_ATTACHMENT",
    "HEADER",
    "FrameReader",
    "FrameWriter",
    "ProtocolError",
]

FLAG_JSON = 0x00
FLAG_TYPED = 0x10  # the JSON packet holds typed values ("__snakepit__" objects)
FLAG_ATTACHMENT = 0x80
MAX_FRAME = 1 << 31

_HEADER = struct.Struct(">BI")
HEADER = _HEADER  # flags, payload length


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid envelope."""


class _CountingRaw(io.RawIOBase):
    """The pipe, counting the bytes read from it (so the reader knows what its buffer holds)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.fed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: "memoryview | bytearray") -> int:  # type: ignore[override]
        n = os.readv(self.fd, (buf,))
        self.fed += n
        return n


class FrameReader:
    """Reads envelopes; returns (flags, payload, attachments) per JSON packet.

    `buffered()` says whether bytes of a next packet were already read from the pipe (a read
    would not wait for the host), so a burst of packets can be taken in one go.
    """

    def __init__(self, fd: int) -> None:
        self._raw = _CountingRaw(fd)
        # A large payload is read straight into its bytes object (no extra copy).
        self._file = io.BufferedReader(self._raw, 1 << 16)
        self._taken = 0

    def buffered(self) -> bool:
        have = self._raw.fed - self._taken
        if have < 5:
            return False
        # A whole envelope must be here: reading a partial one (a big payload still arriving)
        # would block the reading thread while calls it already took wait to run.
        head = self._file.peek(5)
        return len(head) >= 5 and have >= 5 + _HEADER.unpack_from(head)[1]

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
            self._taken += 5 + length
            if flags & FLAG_ATTACHMENT:
                attachments.append(payload)
                continue
            return flags, payload, attachments


class FrameWriter(BatchWriting):
    """Writes packets atomically (attachments then JSON) from any thread.

    Stream chunks (`queue_packet`) may be held briefly so that a fast stream goes out in few
    writes: a chunk is written at once when nothing was written in the last `HOLD_S` (so the
    first chunk of a stream is never held: see `first`), otherwise it waits for the next write, which happens
    when the oldest held chunk is `HOLD_S` old (checked at each chunk), at `HOLD_MAX` bytes, with
    any other packet, before the producer waits for credit (`flush`), or from a flusher thread
    polling every `POLL_S` while chunks are held (a generator that stalls).
    """

    HOLD_S = 0.0001
    HOLD_MAX = 32 * 1024
    POLL_S = 0.001

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._held: List[bytes] = []
        self._held_size = 0
        self._held_since = 0.0
        self._last_write = 0.0
        self._wake = threading.Event()
        self._flusher: Optional[threading.Thread] = None
        self._watch: Optional[Callable[[], bool]] = None
        self._batches: List[Any] = []  # open stream batches (stream_out.Batch), written on stalls
        self.polling = False  # the flusher thread is polling (mirrors _wake, read without a call)

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
                if self._held:
                    self._write_all(self._take_held())
                for part in parts:
                    self._write_all(part)
            return
        data = _HEADER.pack(flags, len(payload)) + payload
        with self._lock:
            if self._held:
                self._held.append(data)
                data = self._take_held()
            self._write_all(data)

    def queue_packet(self, payload: bytes, first: bool = False) -> None:
        """Send a stream chunk (untyped JSON, no attachments), possibly held with its neighbours;
        a stream's `first` chunk is never held."""
        data = _HEADER.pack(FLAG_JSON, len(payload)) + payload
        now = time.monotonic()
        with self._lock:
            held = self._held
            if held:
                held.append(data)
                self._held_size += len(data)
                if now - self._held_since < self.HOLD_S and self._held_size < self.HOLD_MAX:
                    return
                data = self._take_held()
            elif not first and now - self._last_write < self.HOLD_S:
                held.append(data)
                self._held_size = len(data)
                self._held_since = now
                if not self._wake.is_set():
                    self._start_flusher()
                return
            self._write_all(data)

    def hold_packet(self, payload: bytes) -> None:
        """Hold an untyped JSON packet for the next write: the caller has more to send at once
        and flushes then (the flusher thread writes it if that takes longer than `HOLD_S`)."""
        data = _HEADER.pack(FLAG_JSON, len(payload)) + payload
        with self._lock:
            held = self._held
            if not held:
                self._held_since = time.monotonic()
                if not self._wake.is_set():
                    self._start_flusher()
            held.append(data)
            self._held_size += len(data)
            if self._held_size >= self.HOLD_MAX:
                self._write_all(self._take_held())

    def flush(self) -> None:
        """Write held chunks now."""
        if self._held:
            with self._lock:
                if self._held:
                    self._write_all(self._take_held())

    def _take_held(self) -> bytes:
        parts = self._held
        self._held = []
        self._held_size = 0
        return b"".join(parts)

    def watching(self) -> bool:
        return self._watch is not None and self._wake.is_set()

    def watch(self, check: Callable[[], bool]) -> None:
        """Have the flusher thread run `check` at each poll, polling on while it returns True."""
        with self._lock:
            self._watch = check
            self._start_flusher()

    def _start_flusher(self) -> None:
        self.polling = True
        self._wake.set()
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="snakepit-flush", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        """Polls while chunks are held; sleeps on the event when none has been for a while."""
        while True:
            self._wake.wait()
            idle = 0
            while idle < 20:
                time.sleep(self.POLL_S)  # without the GIL: the producer runs meanwhile
                watch = self._watch
                if watch is not None and watch():
                    idle = 0
                try:
                    if self._flush_batches():
                        idle = 0
                except OSError:
                    return  # the host is gone: the reader sees it too
                if not self._held:
                    idle += 1
                    continue
                idle = 0
                if time.monotonic() - self._held_since >= self.HOLD_S:
                    try:
                        self.flush()
                    except OSError:
                        return  # the host is gone: the reader sees it too
            self.polling = False
            self._wake.clear()
            watch = self._watch
            held = self._held or any(batch.pending() for batch in list(self._batches))
            if held or (watch is not None and watch()):  # held (or a call to watch) just before the clear: poll on
                self.polling = True
                self._wake.set()

    def _write_all(self, data: bytes) -> None:
        self._last_write = time.monotonic()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

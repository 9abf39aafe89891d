"""The part of FrameWriter that writes stream batches (stream_out.Batch): by the producer, and
by the flusher thread when a generator stalls with chunks held. Always after what is held, so
packets keep their order."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, List

__all__ = ["BatchWriting"]


class BatchWriting:
    """Mixed into FrameWriter, whose lock, held packets and flusher it uses."""

    HOLD_S: float
    _lock: threading.Lock
    _held: List[bytes]
    _batches: List[Any]
    _take_held: Callable[[], bytes]
    _write_all: Callable[[bytes], None]
    _start_flusher: Callable[[], None]

    def open_batch(self, batch: Any) -> None:
        """A stream's batch (stream_out.Batch) whose held chunks the flusher writes if it stalls."""
        with self._lock:
            self._batches.append(batch)

    def write_batch(self, batch: Any) -> None:
        """The producer writes its batch's unsent chunks (after anything held)."""
        with self._lock:
            data = batch.take()
            if data is not None:
                if self._held:
                    self._held.append(data)
                    data = self._take_held()
                self._write_all(data)
            batch.cleared()

    def close_batch(self, batch: Any) -> None:
        """The stream ends: its last chunks go out (before its end), the flusher forgets it."""
        try:
            self.write_batch(batch)
        finally:
            with self._lock:
                self._batches.remove(batch)

    def start_polling(self) -> None:
        """Chunks of an open batch are held: have the flusher thread poll."""
        with self._lock:
            self._start_flusher()

    def _flush_batches(self) -> bool:
        """Flusher: write batches whose oldest held chunk may be `HOLD_S` old; True if any holds chunks."""
        if not self._batches:
            return False
        now = time.monotonic()
        holding = False
        with self._lock:
            for batch in self._batches:
                if batch.pending():
                    if now - batch.sent_at >= self.HOLD_S:
                        data = batch.take()
                        if data is not None:
                            if self._held:  # e.g. a message of this stream queued before the batch
                                self._held.append(data)
                                data = self._take_held()
                            self._write_all(data)
                    else:
                        holding = True
        return holding

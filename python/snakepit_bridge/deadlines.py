"""One timer thread for the calls whose deadline Python enforces (a tool's own default)."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable, List, Optional, Tuple

from .call_state import CallState

__all__ = ["DeadlineTimer"]


class DeadlineTimer:
    """Calls `on_expiry(call)` once each armed call's deadline passes (started on first use)."""

    def __init__(self, on_expiry: Callable[[CallState], None]) -> None:
        self._on_expiry = on_expiry
        self._heap: List[Tuple[float, int, CallState]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None

    def arm(self, call: CallState) -> None:
        if call.deadline is None:
            return
        with self._cond:
            heapq.heappush(self._heap, (call.deadline, next(self._seq), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="snakepit-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                due, _, call = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            try:
                self._on_expiry(call)
            except Exception:  # noqa: BLE001 - the timer thread must survive
                pass

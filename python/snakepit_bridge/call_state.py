"""Book-keeping for one host->Python call, shared by the reading thread and the call's thread."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Optional

__all__ = ["CallState"]


class CallState:
    """One call: its id, request, deadline, cancel flag and stream credits."""

    __slots__ = (
        "id", "method", "msg", "cancelled", "expired", "deadline", "received", "credits", "credit_cond", "future",
        "hold", "own_deadline",
    )

    def __init__(self, call_id: int, method: str, msg: Dict[str, Any], deadline: Optional[float],
                 received: Optional[float] = None) -> None:
        self.id = call_id
        self.method = method
        self.msg = msg
        # Plain flags: set by the reader (or the deadline timer), read by the tool's thread.
        self.cancelled = False
        self.expired = False
        self.deadline = deadline
        self.received = time.monotonic() if received is None else received
        self.credits = 0  # stream messages the host granted in all
        self.credit_cond: Optional[threading.Condition] = None
        self.future: Any = None
        self.own_deadline = False  # the deadline is the tool's default (the host sent none)
        self.hold = False  # its answer may wait for the next call's (which is quick): one write

    @property
    def streaming(self) -> bool:
        return self.method == "ExecuteStreamingTool"

    @property
    def stopped(self) -> bool:
        """Cancelled by the host or past its deadline: the tool should stop."""
        return self.cancelled or self.expired or (self.deadline is not None and time.monotonic() > self.deadline)

    def wake(self) -> None:
        """Wake a stream waiting for credits (after a cancel or an expired deadline)."""
        cond = self.credit_cond
        if cond is not None:
            with cond:
                cond.notify()

"""What a tool sees of its call: session, metadata, state, cancellation and host tools."""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional

from .errors import Cancelled, DeadlineExceeded

if TYPE_CHECKING:  # pragma: no cover
    from .worker import Worker

__all__ = ["ToolContext", "CallState"]


class CallState:
    """Book-keeping for one host->Python call, shared by the reader and the call thread."""

    __slots__ = ("id", "method", "msg", "cancelled", "deadline", "credits", "credit_cond", "future")

    def __init__(self, call_id: int, method: str, msg: Dict[str, Any], deadline: Optional[float]) -> None:
        self.id = call_id
        self.method = method
        self.msg = msg
        # A plain flag: set by the reader, read by the tool's thread (one bytecode, GIL-atomic).
        self.cancelled = False
        self.deadline = deadline
        self.credits = 0
        self.credit_cond: Optional[threading.Condition] = None
        self.future: Any = None


class _HostTools:
    """`ctx.tools.name(**kwargs)` sugar over `ctx.call`."""

    def __init__(self, ctx: "ToolContext") -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda **kwargs: self._ctx.call(name, **kwargs)


class ToolContext:
    """Passed to tools that declare a `ctx` parameter."""

    def __init__(self, worker: "Worker", call: CallState, session_id: str, metadata: Dict[str, str]) -> None:
        self._worker = worker
        self._call = call
        self.session_id = session_id
        self.metadata = metadata
        self.call_id = call.id
        self.correlation_id = call.msg.get("correlationId", "")
        self.traceparent = call.msg.get("traceparent", "")
        self.tools = _HostTools(self)
        self._local_state: Optional[Dict[str, Any]] = None

    @property
    def state(self) -> Dict[str, Any]:
        """Per-session dict kept in this worker until the session ends (per-call without a session)."""
        if self.session_id:
            return self._worker.session_state(self.session_id)
        if self._local_state is None:
            self._local_state = {}
        return self._local_state

    @property
    def device(self) -> str:
        """The device the host gave this worker (`cuda:1`, `rocm:0`, `mps`, `cpu`), "" when none."""
        return os.environ.get("SNAKEPIT_DEVICE", "")

    @property
    def local_device(self) -> str:
        """The same device as named inside this worker, where only it is visible (`cuda:0`): pass it to torch."""
        return os.environ.get("SNAKEPIT_LOCAL_DEVICE", self.device)

    @property
    def cancelled(self) -> bool:
        """True once the host cancelled the call or its deadline passed."""
        return self._call.cancelled or (
            self._call.deadline is not None and time.monotonic() > self._call.deadline
        )

    def check_cancelled(self) -> None:
        """Raise `Cancelled` / `DeadlineExceeded` when the call should stop."""
        if self._call.cancelled:
            raise Cancelled(f"call {self._call.id} was cancelled by the host")
        if self._call.deadline is not None and time.monotonic() > self._call.deadline:
            raise DeadlineExceeded(f"call {self._call.id} passed its deadline")

    @property
    def remaining_ms(self) -> Optional[float]:
        if self._call.deadline is None:
            return None
        return max(0.0, (self._call.deadline - time.monotonic()) * 1000)

    def call(self, name: str, **kwargs: Any) -> Any:
        """Call a host tool and return its result; its failure raises `HostToolError`."""
        return self._worker.call_host_tool(self, name, kwargs)

    def stream(self, name: str, **kwargs: Any) -> Iterator[Any]:
        """Call a host tool that yields; iterate over its chunks."""
        return self._worker.stream_host_tool(self, name, kwargs)

    def host_tools(self) -> "list[Dict[str, Any]]":
        """The host tools this call can see: name, description, JSON Schema, streaming."""
        return self._worker.list_host_tools(self)

    async def acall(self, name: str, **kwargs: Any) -> Any:
        """`call` for async tools: waits in a thread so the event loop keeps running."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, lambda: self.call(name, **kwargs))

    def emit(self, name: str, measurements: Optional[Dict[str, Any]] = None, metadata: Optional[Dict[str, Any]] = None) -> None:
        """Emit a telemetry event correlated with this call."""
        from . import telemetry

        telemetry.emit(name, measurements, metadata, correlation_id=self.correlation_id, traceparent=self.traceparent)

"""What a tool sees of its call: session, metadata, state, cancellation and host tools.

A context needs only three narrow things: the call's state, a `HostCalls` (to call host tools)
and a `SessionStates` (per-session dicts). It never sees the server.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from .call_state import CallState
from .errors import Cancelled, DeadlineExceeded

try:  # typing.Protocol is 3.8+; kept optional for type checkers only
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore

__all__ = ["ToolContext", "CallState", "HostCalls", "SessionStates"]


class HostCalls(Protocol):
    """What a tool may ask of the host (implemented by `host_client.HostClient`)."""

    def call_tool(self, call: CallState, name: str, args: Dict[str, Any], session_id: str, traceparent: str = "") -> Any: ...

    def stream_tool(self, call: CallState, name: str, args: Dict[str, Any], session_id: str) -> Iterator[Any]: ...

    def list_tools(self, call: CallState, session_id: str) -> List[Dict[str, Any]]: ...


class SessionStates(Protocol):
    def state(self, session_id: str) -> Dict[str, Any]: ...


class _HostTools:
    """`ctx.tools.name(**kwargs)` sugar over `ctx.call`."""

    def __init__(self, ctx: "ToolContext") -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda **kwargs: self._ctx.call(name, **kwargs)


class ToolContext:
    """Passed to tools that declare a `ctx` parameter."""

    def __init__(self, call: CallState, host: HostCalls, sessions: SessionStates) -> None:
        self._call = call
        self._host = host
        self._sessions = sessions
        self.session_id: str = call.msg.get("sessionId", "") or ""
        self.metadata: Dict[str, str] = call.msg.get("metadata") or {}
        self.call_id = call.id
        self.correlation_id: str = call.msg.get("correlationId", "") or ""
        self.traceparent: str = call.msg.get("traceparent", "") or ""
        self.tools = _HostTools(self)
        self._local_state: Optional[Dict[str, Any]] = None

    @property
    def state(self) -> Dict[str, Any]:
        """Per-session dict kept in this worker until the session ends (per-call without a session)."""
        if self.session_id:
            return self._sessions.state(self.session_id)
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
        return self._call.stopped

    def check_cancelled(self) -> None:
        """Raise `Cancelled` / `DeadlineExceeded` when the call should stop."""
        if self._call.cancelled:
            raise Cancelled(f"call {self._call.id} was cancelled by the host")
        if self._call.stopped:
            raise DeadlineExceeded(f"call {self._call.id} passed its deadline")

    @property
    def remaining_ms(self) -> Optional[float]:
        if self._call.deadline is None:
            return None
        return max(0.0, (self._call.deadline - time.monotonic()) * 1000)

    def call(self, name: str, **kwargs: Any) -> Any:
        """Call a host tool and return its result; its failure raises `HostToolError`."""
        self.check_cancelled()
        try:
            return self._host.call_tool(self._call, name, kwargs, self.session_id, self.traceparent)
        except Exception:
            self.check_cancelled()  # a cancel that ended the host call reads as the cancel
            raise

    def stream(self, name: str, **kwargs: Any) -> Iterator[Any]:
        """Call a host tool that yields; iterate over its chunks."""
        self.check_cancelled()
        return self._host.stream_tool(self._call, name, kwargs, self.session_id)

    def host_tools(self) -> List[Dict[str, Any]]:
        """The host tools this call can see: name, description, JSON Schema, streaming."""
        return self._host.list_tools(self._call, self.session_id)

    async def acall(self, name: str, **kwargs: Any) -> Any:
        """`call` for async tools: waits in a thread so the event loop keeps running."""
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, lambda: self.call(name, **kwargs))

    def emit(self, name: str, measurements: Optional[Dict[str, Any]] = None, metadata: Optional[Dict[str, Any]] = None) -> None:
        """Emit a telemetry event correlated with this call."""
        from . import telemetry

        telemetry.emit(name, measurements, metadata, correlation_id=self.correlation_id, traceparent=self.traceparent)

"""Calls from Python into the host: host tools, the Ready handshake, telemetry notifications.

Replies arrive on the reading thread (`on_message`, `on_end`); the calling thread waits on its
`_Pending`. A call made within a host->Python call takes that call's deadline and is cancelled
with it (`cancel_children`).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .call_state import CallState
from .errors import DeadlineExceeded, HostToolError
from .wire import CANCEL, CREDIT, REQUEST, STREAM_REQUEST

__all__ = ["HostClient", "STREAM_WINDOW"]

STREAM_WINDOW = 256
Send = Callable[[Dict[str, Any]], None]
OnEnd = Callable[[Any, Optional[Dict[str, Any]]], None]


class _Pending:
    """A Python->host call waiting for its reply."""

    __slots__ = ("event", "msg", "error", "parent", "chunks", "on_end")

    def __init__(self, parent: int, streaming: bool, on_end: Optional[OnEnd]) -> None:
        self.event = threading.Event()
        self.msg: Any = None
        self.error: Optional[Dict[str, Any]] = None
        self.parent = parent
        self.chunks: Optional["queue.SimpleQueue[Any]"] = queue.SimpleQueue() if streaming else None
        self.on_end = on_end


class HostClient:
    """Python's side of the Python->host direction of the channel."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._pending: Dict[int, _Pending] = {}
        self._ids = itertools.count(1)

    # ---- requests ------------------------------------------------------------------------
    def request(self, method: str, msg: Dict[str, Any], *, parent: int = 0, wait: bool = True,
                streaming: bool = False, deadline: Optional[float] = None, on_end: Optional[OnEnd] = None) -> Any:
        call_id = next(self._ids)
        pending = _Pending(parent, streaming, on_end)
        self._pending[call_id] = pending
        packet: Dict[str, Any] = {"k": STREAM_REQUEST if streaming else REQUEST, "id": call_id, "m": method, "msg": msg}
        if deadline is not None:
            packet["t"] = max(1, int((deadline - time.monotonic()) * 1000))
        if streaming:
            packet["n"] = STREAM_WINDOW
        self._send(packet)
        if not wait:
            return None
        if streaming:
            return call_id, pending
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not pending.event.wait(remaining):
            self._pending.pop(call_id, None)
            self._send({"k": CANCEL, "id": call_id})
            raise DeadlineExceeded(f"host call {method} passed the enclosing call's deadline")
        return pending

    def notify(self, method: str, msg: Dict[str, Any]) -> None:
        """Fire-and-forget request (telemetry, logs): the reply is ignored."""
        self.request(method, msg, wait=False, on_end=lambda *_: None)

    def call_tool(self, call: CallState, name: str, args: Dict[str, Any], session_id: str, traceparent: str = "") -> Any:
        msg = {"toolName": name, "args": args, "sessionId": session_id, "parentCallId": str(call.id)}
        if traceparent:
            msg["traceparent"] = traceparent
        pending = self.request("CallHostTool", msg, parent=call.id, deadline=call.deadline)
        if pending.error is not None:
            raise host_error(pending.error, name)
        return (pending.msg or {}).get("result")

    def stream_tool(self, call: CallState, name: str, args: Dict[str, Any], session_id: str) -> Iterator[Any]:
        msg = {"toolName": name, "args": args, "sessionId": session_id, "parentCallId": str(call.id)}
        call_id, pending = self.request("StreamHostTool", msg, parent=call.id, streaming=True, deadline=call.deadline)
        return self._chunks(call_id, pending, name)

    def _chunks(self, call_id: int, pending: _Pending, name: str) -> Iterator[Any]:
        consumed = 0
        done = False
        try:
            while True:
                chunk = pending.chunks.get()  # type: ignore[union-attr]
                if chunk is None:
                    done = True
                    if pending.error is not None:
                        raise host_error(pending.error, name)
                    return
                consumed += 1
                if consumed % (STREAM_WINDOW // 2) == 0:
                    self._send({"k": CREDIT, "id": call_id, "n": STREAM_WINDOW // 2})
                yield chunk.get("data")
        finally:
            if not done:
                self._pending.pop(call_id, None)
                self._send({"k": CANCEL, "id": call_id})

    def list_tools(self, call: CallState, session_id: str) -> List[Dict[str, Any]]:
        pending = self.request("ListHostTools", {"sessionId": session_id}, parent=call.id, deadline=call.deadline)
        if pending.error is not None:
            raise host_error(pending.error, "ListHostTools")
        return list((pending.msg or {}).get("tools") or [])

    # ---- replies, on the reading thread --------------------------------------------------
    def on_message(self, call_id: int, msg: Any) -> None:
        pending = self._pending.get(call_id)
        if pending is not None and pending.chunks is not None:
            pending.chunks.put(msg or {})

    def on_end(self, call_id: int, msg: Any, error: Optional[Dict[str, Any]]) -> None:
        pending = self._pending.pop(call_id, None)
        if pending is None:
            return
        pending.msg = msg
        pending.error = error
        pending.event.set()
        if pending.chunks is not None:
            pending.chunks.put(None)
        if pending.on_end is not None:
            pending.on_end(msg, error)

    def cancel_children(self, parent: int) -> None:
        """The enclosing call was cancelled: cancel its host calls and wake the waiting tool."""
        for host_id, pending in list(self._pending.items()):
            if pending.parent == parent:
                self._pending.pop(host_id, None)
                self._send({"k": CANCEL, "id": host_id})
                pending.error = {"code": "canceled", "message": "the enclosing call was cancelled"}
                pending.event.set()
                if pending.chunks is not None:
                    pending.chunks.put(None)


def host_error(error: Dict[str, Any], name: str) -> HostToolError:
    code = error.get("code", "unknown")
    for detail in error.get("details") or []:
        debug = detail.get("debug") or {}
        if debug.get("code"):
            code = debug["code"]
    return HostToolError(code, error.get("message", f"host tool {name} failed"), tool=name)


def pending_ids(client: HostClient) -> Tuple[int, ...]:
    """Ids of the host calls still waiting (tests)."""
    return tuple(client._pending)

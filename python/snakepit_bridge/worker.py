"""The worker's server loop: reads calls from the host, runs tools, writes results.

Leader/follower threads (capacity + 1 of them): one thread at a time holds the "lead" and reads
packets, answering control RPCs, cancels and host-tool replies at once, so they are never stuck
behind a long call. When the leader reads a call and a slot is free, it hands the lead to a
follower and runs the call itself: no thread hop on the call path. Calls that arrive while every
slot is busy wait in a FIFO; a thread that finishes a call takes the next one. Async tools share
one event loop thread.
"""

from __future__ import annotations

import itertools
from collections import deque
import os
import queue
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from . import codec, shm, telemetry, tracing
from .adapter import Tool
from .context import CallState, ToolContext
from .errors import BridgeError, Cancelled, DeadlineExceeded, HostToolError, InvalidArgument, ToolNotFound
from .framing import FLAG_TYPED, FrameReader, FrameWriter
from .wire import CANCEL, CREDIT, END, MESSAGE, REQUEST, STREAM_REQUEST, error_payload

__all__ = ["Worker", "PROTOCOL_VERSION"]

PROTOCOL_VERSION = 1
# Set by the SIGTERM handler: a SystemExit raised then must end the worker, not just a call.
TERMINATING = threading.Event()
STREAM_WINDOW = 256


class _Pending:
    """A Python->host call waiting for its reply."""

    __slots__ = ("event", "msg", "error", "parent", "chunks")

    def __init__(self, parent: int, streaming: bool) -> None:
        self.event = threading.Event()
        self.msg: Any = None
        self.error: Optional[Dict[str, Any]] = None
        self.parent = parent
        self.chunks: Optional["queue.SimpleQueue[Any]"] = queue.SimpleQueue() if streaming else None


class Worker:
    def __init__(
        self,
        target: Any,
        tools: Dict[str, Tool],
        *,
        worker_id: str,
        capacity: int,
        reader: FrameReader,
        writer: FrameWriter,
    ) -> None:
        self.target = target
        self.tools = tools
        self.worker_id = worker_id
        self.capacity = max(1, capacity)
        self._reader = reader
        self._writer = writer
        self._calls: Dict[int, CallState] = {}
        self._pending: Dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._lead = threading.Lock()
        self._slots = threading.Lock()
        self._busy = 0
        self._waiting: "deque[CallState]" = deque()
        self._sessions: Dict[str, Dict[str, Any]] = {}
        self._loop: Any = None  # asyncio loop, started with the first async tool
        self._loop_lock = threading.Lock()
        self._stopping = False
        self._last_heard = time.monotonic()

    # ---- sending -------------------------------------------------------------------------
    def send(self, packet: Dict[str, Any]) -> None:
        payload, attachments, typed = codec.dumps(packet)
        self._writer.write_packet(payload, attachments, typed)

    # ---- main loop -----------------------------------------------------------------------
    def serve(self) -> None:
        telemetry.attach(self)
        self._request_host("Ready", {
            "workerId": self.worker_id,
            "pid": os.getpid(),
            "protocolVersion": PROTOCOL_VERSION,
            "pythonVersion": sys.version.split()[0],
            "tools": [t.spec() for t in self.tools.values()],
            "capacity": self.capacity,
            "features": [f for f, ok in (("orjson", codec._fast_loads is not codec.json.loads), ("numpy", codec.has_numpy())) if ok],
        }, parent=0, wait=False)
        for i in range(self.capacity):
            threading.Thread(target=self._thread_main, name=f"snakepit-{i + 1}", daemon=True).start()
        self._thread_main()

    def _thread_main(self) -> None:
        """Lead (read and dispatch) until a call is ours to run; run it; repeat."""
        read = self._reader.read_packet
        while True:
            call: Optional[CallState] = None
            with self._lead:
                while call is None:
                    packet = read()
                    if packet is None:
                        self._host_gone()
                        return
                    self._last_heard = time.monotonic()
                    call = self._receive(packet)
            # The lead is released: a follower reads on while this thread runs the call.
            while call is not None:
                self._run(call)
                with self._slots:
                    if self._waiting:
                        call = self._waiting.popleft()
                    else:
                        self._busy -= 1
                        call = None

    def _receive(self, packet: "tuple[int, bytes, list]") -> Optional[CallState]:
        """Decode and dispatch one packet; a bad one is answered (requests) or logged, never fatal."""
        flags, payload, attachments = packet
        msg: Any = None
        try:
            msg = codec.loads(payload)
            if flags & FLAG_TYPED:
                msg = codec.revive(msg, attachments)
            return self._dispatch(msg)
        except Exception as exc:  # noqa: BLE001 - the reading thread must survive bad input
            kind = msg.get("k") if isinstance(msg, dict) else None
            if kind in (REQUEST, STREAM_REQUEST) and isinstance(msg.get("id"), int):
                self._calls.pop(msg["id"], None)
                bad = InvalidArgument(f"request could not be decoded: {type(exc).__name__}: {exc}")
                self.send({"k": END, "id": msg["id"], "error": error_payload(bad)})
            else:
                print(f"snakepit worker {self.worker_id}: dropped a packet it could not decode: {exc}", file=sys.stderr)
            return None

    def _dispatch(self, packet: Dict[str, Any]) -> Optional[CallState]:
        """Handle one packet; returns a call for the current thread to run now, if any."""
        kind = packet["k"]
        call_id = packet["id"]
        if kind == REQUEST or kind == STREAM_REQUEST:
            method = packet.get("m", "")
            body = packet.get("msg") or {}
            if method == "ExecuteTool" or method == "ExecuteStreamingTool":
                timeout_ms = packet.get("t")
                deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None
                call = CallState(call_id, method, body, deadline)
                if kind == STREAM_REQUEST:
                    call.credits = int(packet.get("n") or STREAM_WINDOW)
                    call.credit_cond = threading.Condition()
                self._calls[call_id] = call
                if self._stopping:
                    self._finish(call, error=BridgeError("worker is shutting down"))
                    return None
                with self._slots:
                    if self._busy < self.capacity:
                        self._busy += 1
                        return call
                    self._waiting.append(call)
                return None
            self._control(call_id, method, body)
        elif kind == CANCEL:
            call = self._calls.get(call_id)
            if call is not None:
                call.cancelled = True
                with self._slots:
                    try:
                        self._waiting.remove(call)
                        queued = True
                    except ValueError:
                        queued = False
                if queued:  # never started: answer now instead of after the running call
                    self._finish(call)
                    return None
                self._wake(call)
                if call.future is not None:
                    call.future.cancel()
                for host_id, pending in list(self._pending.items()):
                    if pending.parent == call_id:
                        # Tell the host to stop the host tool too, then wake the waiting tool.
                        self._pending.pop(host_id, None)
                        self.send({"k": CANCEL, "id": host_id})
                        pending.error = {"code": "canceled", "message": "the enclosing call was cancelled"}
                        pending.event.set()
                        if pending.chunks is not None:
                            pending.chunks.put(None)
        elif kind == CREDIT:
            call = self._calls.get(call_id)
            if call is not None and call.credit_cond is not None:
                with call.credit_cond:
                    call.credits += int(packet.get("n") or 0)
                    call.credit_cond.notify()
        elif kind == MESSAGE:
            pending = self._pending.get(call_id)
            if pending is not None and pending.chunks is not None:
                pending.chunks.put(packet.get("msg") or {})
        elif kind == END:
            pending = self._pending.pop(call_id, None)
            if pending is not None:
                pending.msg = packet.get("msg")
                pending.error = packet.get("error")
                pending.event.set()
                if pending.chunks is not None:
                    pending.chunks.put(None)

    @staticmethod
    def _wake(call: CallState) -> None:
        if call.credit_cond is not None:
            with call.credit_cond:
                call.credit_cond.notify()

    # ---- control RPCs, answered on the reader thread --------------------------------------
    def _control(self, call_id: int, method: str, body: Dict[str, Any]) -> None:
        try:
            reply = self._control_reply(method, body)
            self.send({"k": END, "id": call_id, "msg": reply})
        except BaseException as exc:  # noqa: BLE001 - every request gets an answer
            self.send({"k": END, "id": call_id, "error": error_payload(exc)})

    def _control_reply(self, method: str, body: Dict[str, Any]) -> Dict[str, Any]:
        if method == "Heartbeat":
            return {
                "seq": body.get("seq", 0),
                "inFlight": len(self._calls),
                "rssBytes": telemetry.rss_bytes(),
                "sessions": len(self._sessions),
            }
        if method == "Ping":
            return {"message": body.get("message", "pong"), "pid": os.getpid(), "workerId": self.worker_id}
        if method == "ListTools":
            return {"tools": [t.spec() for t in self.tools.values()]}
        if method == "InitializeSession":
            sid = body.get("sessionId", "")
            existed = sid in self._sessions
            self._sessions.setdefault(sid, {})
            return {"existed": existed}
        if method == "CleanupSession":
            state = self._sessions.pop(body.get("sessionId", ""), None)
            if state is not None:
                for value in state.values():
                    close = getattr(value, "close", None)
                    if callable(close):
                        try:
                            close()
                        except Exception:  # noqa: BLE001 - best effort
                            pass
            return {"existed": state is not None}
        if method == "ConfigureTelemetry":
            telemetry.configure(body)
            return {}
        if method == "Shutdown":
            self._stopping = True
            grace_ms = int(body.get("graceMs") or 2000)
            threading.Thread(target=self._drain_and_exit, args=(grace_ms,), daemon=True).start()
            return {}
        raise BridgeError(f"unknown method {method!r}")

    def session_state(self, session_id: str) -> Dict[str, Any]:
        state = self._sessions.get(session_id)
        if state is None:
            state = self._sessions[session_id] = {}
        return state

    def session_count(self) -> int:
        return len(self._sessions)

    # ---- running tools -------------------------------------------------------------------
    def _run(self, call: CallState) -> None:
        started = time.perf_counter()
        try:
            body = call.msg
            name = body.get("toolName", "")
            tool = self.tools.get(name)
            if tool is None:
                available = ", ".join(sorted(self.tools)) or "none"
                raise ToolNotFound(f"tool '{name}' not found (available: {available})", field="tool")
            args = body.get("args") or {}
            tool.validate(args)
            if tracing.available and body.get("traceparent"):
                with tracing.tool_span(name, body["traceparent"]) as own:
                    if own:
                        body["traceparent"] = own
                    self._run_tool(call, tool, args, body, started)
                return
            self._run_tool(call, tool, args, body, started)
        except BaseException as exc:  # noqa: BLE001 - the host always gets an answer
            self._finish(call, error=exc)
            # A tool calling sys.exit() is an error of that call; SIGTERM (TERMINATING) ends us.
            if isinstance(exc, SystemExit) and TERMINATING.is_set():
                raise

    def _run_tool(self, call: CallState, tool: Tool, args: Dict[str, Any], body: Dict[str, Any], started: float) -> None:
        """Run a validated call; exceptions go to `_run`, which answers the host."""
        if tool.wants_ctx:
            args = dict(args)
            args["ctx"] = ToolContext(self, call, body.get("sessionId", ""), body.get("metadata") or {})
        if call.cancelled:
            raise Cancelled(f"call {call.id} was cancelled before it started")
        if call.method == "ExecuteStreamingTool":
            self._run_stream(call, tool, args)
            self._finish(call)
            return
        result = self._invoke(call, tool, args)
        if tool.streaming:
            result = list(self._iterate(call, tool, result))
        duration_us = int((time.perf_counter() - started) * 1e6)
        self._finish(call, result={"result": result, "durationUs": duration_us})

    def _finish(self, call: CallState, result: Optional[Dict[str, Any]] = None, error: Optional[BaseException] = None) -> None:
        self._calls.pop(call.id, None)
        if error is None and call.cancelled:
            error = Cancelled(f"call {call.id} was cancelled by the host")
        if error is None:
            try:
                self.send({"k": END, "id": call.id, "msg": result or {}})
                return
            except Exception as exc:  # noqa: BLE001 - e.g. a circular result
                error = BridgeError(f"result of call {call.id} cannot be encoded: {type(exc).__name__}: {exc}")
        self.send({"k": END, "id": call.id, "error": error_payload(error)})

    def _event_loop(self) -> Any:
        import asyncio

        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="snakepit-asyncio", daemon=True).start()
                self._loop = loop
            return self._loop

    def _await(self, call: CallState, coro: Any) -> Any:
        """Run a coroutine on the event loop thread; a host cancel cancels its task."""
        import concurrent.futures

        import asyncio

        future = asyncio.run_coroutine_threadsafe(coro, self._event_loop())
        call.future = future
        if call.cancelled:
            future.cancel()
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise Cancelled(f"call {call.id} was cancelled by the host") from None
        finally:
            call.future = None

    def _invoke(self, call: CallState, tool: Tool, args: Dict[str, Any]) -> Any:
        if tool.is_async:
            return self._await(call, tool.fn(**args))
        return tool.fn(**args)

    def _iterate(self, call: CallState, tool: Tool, gen: Any) -> Iterator[Any]:
        """Yield a tool's chunks; closes the generator when the call is cancelled."""
        if tool.is_async_gen or hasattr(gen, "__anext__"):
            try:
                while True:
                    if call.cancelled:
                        raise Cancelled(f"call {call.id} was cancelled by the host")
                    try:
                        item = self._await(call, gen.__anext__())
                    except StopAsyncIteration:
                        return
                    yield item
            finally:
                try:
                    import asyncio

                    asyncio.run_coroutine_threadsafe(gen.aclose(), self._event_loop()).result(timeout=2)
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
        else:
            try:
                for item in gen:
                    yield item
                    if call.cancelled:
                        raise Cancelled(f"call {call.id} was cancelled by the host")
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()

    def _run_stream(self, call: CallState, tool: Tool, args: Dict[str, Any]) -> None:
        result = self._invoke(call, tool, args)
        if not (tool.streaming or hasattr(result, "__iter__") and not isinstance(result, (dict, str, bytes, list))):
            self.send({"k": MESSAGE, "id": call.id, "msg": {"data": result, "seq": 0}})
            return
        cond = call.credit_cond
        seq = 0
        for item in self._iterate(call, tool, result):
            if cond is not None:
                with cond:
                    while call.credits <= 0 and not call.cancelled:
                        cond.wait()
                    call.credits -= 1
            if call.cancelled:
                raise Cancelled(f"call {call.id} was cancelled by the host")
            self.send({"k": MESSAGE, "id": call.id, "msg": {"data": item, "seq": seq}})
            seq += 1

    # ---- Python -> host calls ------------------------------------------------------------
    def _request_host(self, method: str, msg: Dict[str, Any], *, parent: int, wait: bool = True,
                      streaming: bool = False, deadline: Optional[float] = None) -> Any:
        call_id = next(self._ids)
        pending = _Pending(parent, streaming)
        self._pending[call_id] = pending
        packet: Dict[str, Any] = {"k": STREAM_REQUEST if streaming else REQUEST, "id": call_id, "m": method, "msg": msg}
        if deadline is not None:
            packet["t"] = max(1, int((deadline - time.monotonic()) * 1000))
        if streaming:
            packet["n"] = STREAM_WINDOW
        self.send(packet)
        if not wait:
            return None
        if streaming:
            return call_id, pending
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not pending.event.wait(remaining):
            self._pending.pop(call_id, None)
            self.send({"k": CANCEL, "id": call_id})
            raise DeadlineExceeded(f"host call {method} passed the enclosing call's deadline")
        return pending

    def call_host_tool(self, ctx: ToolContext, name: str, args: Dict[str, Any]) -> Any:
        call = ctx._call
        ctx.check_cancelled()
        msg = {"toolName": name, "args": args, "sessionId": ctx.session_id, "parentCallId": str(call.id)}
        if ctx.traceparent:
            msg["traceparent"] = ctx.traceparent
        pending = self._request_host("CallHostTool", msg, parent=call.id, deadline=call.deadline)
        if pending.error is not None:
            ctx.check_cancelled()
            raise _host_error(pending.error, name)
        return (pending.msg or {}).get("result")

    def stream_host_tool(self, ctx: ToolContext, name: str, args: Dict[str, Any]) -> Iterator[Any]:
        call = ctx._call
        ctx.check_cancelled()
        msg = {"toolName": name, "args": args, "sessionId": ctx.session_id, "parentCallId": str(call.id)}
        call_id, pending = self._request_host("StreamHostTool", msg, parent=call.id, streaming=True, deadline=call.deadline)
        consumed = 0
        done = False
        try:
            while True:
                chunk = pending.chunks.get()
                if chunk is None:
                    done = True
                    if pending.error is not None:
                        raise _host_error(pending.error, name)
                    return
                consumed += 1
                if consumed % (STREAM_WINDOW // 2) == 0:
                    self.send({"k": CREDIT, "id": call_id, "n": STREAM_WINDOW // 2})
                yield chunk.get("data")
        finally:
            if not done:
                self._pending.pop(call_id, None)
                self.send({"k": CANCEL, "id": call_id})

    def list_host_tools(self, ctx: ToolContext) -> List[Dict[str, Any]]:
        pending = self._request_host("ListHostTools", {"sessionId": ctx.session_id}, parent=ctx._call.id, deadline=ctx._call.deadline)
        if pending.error is not None:
            raise _host_error(pending.error, "ListHostTools")
        return list((pending.msg or {}).get("tools") or [])

    def notify_host(self, method: str, msg: Dict[str, Any]) -> None:
        """Fire-and-forget request (telemetry, logs): the reply is ignored."""
        self._request_host(method, msg, parent=0, wait=False)

    # ---- stopping ------------------------------------------------------------------------
    def start_watchdog(self, timeout_s: float) -> None:
        """Exit when the host sends nothing (not even a heartbeat) for `timeout_s`: it is wedged."""

        def watch() -> None:
            while True:
                time.sleep(min(1.0, timeout_s / 4))
                silent = time.monotonic() - self._last_heard
                if silent > timeout_s:
                    print(f"snakepit worker {self.worker_id}: no word from the host for {silent:.1f} s; exiting", file=sys.stderr)
                    self._exit_group()

        threading.Thread(target=watch, name="snakepit-watchdog", daemon=True).start()

    def _drain_and_exit(self, grace_ms: int) -> None:
        deadline = time.monotonic() + grace_ms / 1000
        while self._calls and time.monotonic() < deadline:
            time.sleep(0.01)
        telemetry.flush()
        teardown = getattr(self.target, "teardown", None)
        if callable(teardown):
            try:
                teardown()
            except Exception:  # noqa: BLE001
                pass
        self._exit_group()

    @staticmethod
    def _exit_group() -> None:
        """Exit, taking the subprocesses our tools started (our process group) with us."""
        try:
            shm.cleanup()
            sys.stderr.flush()
            if os.getpgrp() == os.getpid():
                os.killpg(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(0)

    def _host_gone(self) -> None:
        """Our stdin closed: the host is gone. Take our own process group down with us."""
        shm.cleanup(host_gone=True)
        self._exit_group()


def _host_error(error: Dict[str, Any], name: str) -> HostToolError:
    code = error.get("code", "unknown")
    for detail in error.get("details") or []:
        debug = detail.get("debug") or {}
        if debug.get("code"):
            code = debug["code"]
    return HostToolError(code, error.get("message", f"host tool {name} failed"), tool=name)

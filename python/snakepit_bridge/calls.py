"""Running one call: validation, deadline, invocation, chunks with credits, the one answer.

Every call gets exactly one END: a result, or a typed error. A tool's own default deadline
(`@tool(timeout_ms=...)`) applies when the host sent none; a `DeadlineTimer` marks the call
expired when it passes, which stops streams, wakes waits and cancels async tasks and host calls,
and the call then answers `deadline_exceeded`.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Iterator, Optional

from . import compat, correlation, tracing
from .adapter import Tool
from .aio import EventLoop
from .call_state import CallState
from .chunks import _SAFE_INT, PLAIN_TYPES as _PLAIN, SCALARS as _SCALARS, end_packet, is_stream, unwrap_chunk
from .context import ToolContext
from .deadlines import DeadlineTimer
from .errors import BridgeError, Cancelled, DeadlineExceeded, ToolNotFound
from .host_client import HostClient
from .sessions import SessionStore
from .stream_out import send_stream
from .wire import END, MESSAGE, error_payload

__all__ = ["CallRunner", "TERMINATING"]

# Set by the SIGTERM handler: a SystemExit raised then must end the worker, not just a call.
TERMINATING = threading.Event()
_CURRENT = correlation._current
_perf_counter = time.perf_counter
_monotonic = time.monotonic
QUICK_US = 200  # a tool this quick lets the answer before its call wait for its own
Send = Callable[[Dict[str, Any]], None]


class CallRunner:
    """Runs calls on the thread that calls `run`; `cancel` may come from any thread."""

    def __init__(self, tools: Dict[str, Tool], *, host: HostClient, sessions: SessionStore, send: Send,
                 calls: Dict[int, CallState], fallback: Optional[Callable[[str], Optional[Tool]]] = None,
                 send_chunk: Optional[Callable[[int, int, Any], None]] = None,
                 write: Optional[Callable[[bytes], None]] = None, flush: Optional[Callable[[], None]] = None,
                 hold: Optional[Callable[[bytes], None]] = None,
                 queue: Optional[Callable[[bytes, bool], None]] = None) -> None:
        self.tools = tools
        self._flush = flush
        self._write = write  # a ready JSON packet, straight to the pipe
        self._hold = hold  # a ready JSON packet, sent with the next write
        self._queue = queue  # a ready stream message (first?), which may share a write with the next
        self.batch_writer: Any = None  # the FrameWriter, once the host said it reads MESSAGES batches
        self.quick: "set[str]" = set()  # tools whose last call took under QUICK_US
        self.inline_ok: "set[str]" = set()  # of those, the ones without ctx (never wait on the host)
        self._send_chunk = send_chunk or (lambda cid, seq, data: send({"k": MESSAGE, "id": cid, "msg": {"data": data, "seq": seq}}))
        self._host = host
        self._sessions = sessions
        self._send = send
        self._calls = calls
        self._fallback = fallback
        self._aio = EventLoop()
        self._timer = DeadlineTimer(self.expire)

    # ---- stopping a call -----------------------------------------------------------------
    def cancel(self, call: CallState) -> None:
        call.cancelled = True
        self._interrupt(call)

    def expire(self, call: CallState) -> None:
        if self._calls.get(call.id) is call:
            call.expired = True
            self._interrupt(call)

    def _interrupt(self, call: CallState) -> None:
        call.wake()
        if call.future is not None:
            call.future.cancel()
        self._host.cancel_children(call.id)

    # ---- running -------------------------------------------------------------------------
    def run(self, call: CallState) -> None:
        started = _perf_counter()
        try:
            body = call.msg
            name = body.get("toolName", "")
            tool = self.tools.get(name) or (self._fallback(name) if self._fallback else None)
            if tool is None:
                available = ", ".join(sorted(self.tools)) or "none"
                raise ToolNotFound(f"tool '{name}' not found (available: {available})", field="tool")
            if call.deadline is None and tool.timeout_ms:
                call.deadline = call.received + tool.timeout_ms / 1000
                call.own_deadline = True
                self._timer.arm(call)
            args = body.get("args") or {}
            tool.validate(args)
            correlation_id = body.get("correlationId")
            # Nothing to bind when the call has no id and none is bound: the common case.
            token = _CURRENT.set(correlation_id or None) if correlation_id or _CURRENT.get() is not None else None
            try:
                if tracing.available and body.get("traceparent"):
                    with tracing.tool_span(name, body["traceparent"]) as own:
                        if own:
                            body["traceparent"] = own
                        self._run_tool(call, tool, args, started)
                elif tool.wants_ctx or tool.adapter_class is not None or tool.is_async or call.cancelled or call.expired:
                    self._run_tool(call, tool, args, started)
                else:  # a plain function: called inline
                    self._answer(call, tool, tool.fn(**args), started)
            finally:
                if token is not None:
                    _CURRENT.reset(token)
        except BaseException as exc:  # noqa: BLE001 - the host always gets an answer
            self.finish(call, error=exc)
            # A tool calling sys.exit() is an error of that call; SIGTERM (TERMINATING) ends us.
            if isinstance(exc, SystemExit) and TERMINATING.is_set():
                raise

    def _run_tool(self, call: CallState, tool: Tool, args: Dict[str, Any], started: float) -> None:
        """Run a validated call; exceptions go to `run`, which answers the host."""
        ctx = ToolContext(call, self._host, self._sessions) if tool.wants_ctx or tool.adapter_class else None
        if tool.wants_ctx:
            args = dict(args)
            args["ctx"] = ctx
        if call.cancelled or call.expired:
            self._check(call)
        if tool.adapter_class is not None:
            with compat.request_scope(tool, ctx, lambda coro: self._await(call, coro)) as invoke:
                reply = self._settle(call, invoke(args), started)
            self.finish(call, result=reply)  # after the adapter's cleanup()
            return
        self._answer(call, tool, self._await(call, tool.fn(**args)) if tool.is_async else tool.fn(**args), started)

    def _answer(self, call: CallState, tool: Tool, result: Any, started: float) -> None:
        """Send a tool's result: a plain one inline, a stream's chunks, or the collected reply."""
        if call.credit_cond is None and type(result) in _PLAIN:  # the common case, inline
            us = int((_perf_counter() - started) * 1e6)
            if us < QUICK_US:
                self.quick.add(tool.name)
                if not (tool.wants_ctx or tool.adapter_class is not None or tool.is_async):
                    self.inline_ok.add(tool.name)  # cannot wait on the host: may run with the lead
            else:
                self.quick.discard(tool.name)
                self.inline_ok.discard(tool.name)
            if self._write is not None and not (call.cancelled or call.expired):
                payload = end_packet(call.id, result, us)
                if payload is not None:  # a plain scalar: the codec's bytes without the codec
                    self._calls.pop(call.id, None)
                    (self._hold if call.hold and self._hold is not None else self._write)(payload)
                    return
            self.finish(call, result={"result": result, "durationUs": us})
            return
        self.finish(call, result=self._settle(call, result, started))

    def _settle(self, call: CallState, result: Any, started: float) -> Optional[Dict[str, Any]]:
        """Send a stream's chunks (None), or the unary reply (a returned iterator is collected)."""
        if call.streaming:
            self._stream(call, result)
            return None
        if is_stream(result):
            result = list(self._iterate(call, result))
        return {"result": result, "durationUs": int((time.perf_counter() - started) * 1e6)}

    def _await(self, call: CallState, coro: Any) -> Any:
        cid = call.msg.get("correlationId", "")

        async def bound() -> Any:
            token = correlation.bind(cid)
            try:
                return await coro
            finally:
                _CURRENT.reset(token)

        return self._aio.run(call, bound())

    def finish(self, call: CallState, result: Optional[Dict[str, Any]] = None, error: Optional[BaseException] = None) -> None:
        self._calls.pop(call.id, None)
        if call.cancelled and (error is None or isinstance(error, (Cancelled, DeadlineExceeded))):
            error = Cancelled(f"call {call.id} was cancelled by the host")
        elif (call.expired and (error is None or isinstance(error, (Cancelled, DeadlineExceeded)))) or (
                call.own_deadline and isinstance(error, DeadlineExceeded)):  # seen before the timer fired
            budget = int(round((call.deadline - call.received) * 1000)) if call.deadline else 0
            error = DeadlineExceeded(f"call {call.id} passed the tool's default deadline of {budget} ms",
                                     context={"timeoutMs": budget})
        if error is None:
            try:
                packet = {"k": END, "id": call.id, "msg": result or {}}
                if call.hold and self._hold is not None:  # more answers follow at once: one write
                    from .codec import dumps

                    payload, attachments, typed = dumps(packet)
                    if not attachments and not typed:
                        self._hold(payload)
                        return
                self._send(packet)
                return
            except Exception as exc:  # noqa: BLE001 - e.g. a circular result
                error = BridgeError(f"result of call {call.id} cannot be encoded: {type(exc).__name__}: {exc}")
        self._send({"k": END, "id": call.id, "error": error_payload(error)})

    @staticmethod
    def _check(call: CallState) -> None:
        if call.cancelled:
            raise Cancelled(f"call {call.id} was cancelled by the host")
        if call.expired or (call.deadline is not None and time.monotonic() > call.deadline):
            raise DeadlineExceeded(f"call {call.id} passed its deadline")

    # ---- chunks --------------------------------------------------------------------------
    def _iterate(self, call: CallState, gen: Any) -> Iterator[Any]:
        """Yield a tool's chunk data; closes the generator when the call stops or a chunk is final."""
        if hasattr(gen, "__anext__"):
            try:
                while True:
                    self._check(call)
                    try:
                        item = self._aio.run(call, gen.__anext__())
                    except StopAsyncIteration:
                        return
                    data, final = unwrap_chunk(item)
                    yield data
                    if final:
                        return
            finally:
                self._aio.close_async_gen(gen)
        else:
            try:
                for item in gen:
                    if type(item) in _SCALARS:  # never a chunk wrapper: skip the probes
                        yield item
                        if call.cancelled or call.expired or (call.deadline is not None and _monotonic() > call.deadline):
                            self._check(call)
                        continue
                    data, final = unwrap_chunk(item)
                    yield data
                    if final:
                        return
                    self._check(call)
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()

    def _stream(self, call: CallState, result: Any) -> None:
        if not is_stream(result):
            self._send({"k": MESSAGE, "id": call.id, "msg": {"data": result, "seq": 0}})
            return
        if self.batch_writer is not None:
            sync = not hasattr(result, "__anext__")
            send_stream(call, result if sync else self._iterate(call, result), self.batch_writer, self._send_chunk,
                        self._check, raw=sync)
            return
        cond = call.credit_cond
        send = self._send_chunk
        queue = self._queue
        call_id = call.id
        seq = 0
        # `call.credits` is what the host granted in all (only the reader adds to it), `seq` what
        # was sent: no lock per chunk, only to wait when they meet.
        for item in self._iterate(call, result):
            if cond is not None and seq >= call.credits:
                if self._flush is not None:
                    self._flush()  # the host grants credit only for chunks it has seen
                with cond:
                    while seq >= call.credits and not (call.cancelled or call.expired):
                        cond.wait()
            if call.cancelled or call.expired or (call.deadline is not None and _monotonic() > call.deadline):
                self._check(call)
            if type(item) is int and queue is not None and -_SAFE_INT < item < _SAFE_INT:  # chunk_packet, inline
                queue(b'{"k":3,"id":%d,"msg":{"data":%d,"seq":%d}}' % (call_id, item, seq), not seq)
            else:
                send(call_id, seq, item)
            seq += 1

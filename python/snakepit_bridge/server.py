"""The worker's server loop: reads packets from the host, runs calls, answers control RPCs.

Leader/follower threads (capacity + 1 of them): one thread at a time holds the "lead" and reads
packets, answering control RPCs, cancels and host-tool replies at once, so they are never stuck
behind a long call. When the leader reads a call and a slot is free, it hands the lead to a
follower and runs the call itself: no thread hop on the call path. Calls that arrive while every
slot is busy wait in a FIFO; a thread that finishes a call takes the next one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from typing import Any, Dict, Optional

from . import codec, compat, fork_guard, shm, telemetry
from .adapter import Tool
from .call_state import CallState
from .chunks import chunk_packet
from .calls import TERMINATING, CallRunner
from .control import Control, exit_group
from .decode import _QUICK, UndecodablePacket, decode_packet
from .errors import BridgeError
from .framing import FrameReader, FrameWriter, ProtocolError
from .host_client import STREAM_WINDOW, HostClient
from .sessions import SessionStore
from .wire import CANCEL, CREDIT, END, MESSAGE, REQUEST, STREAM_REQUEST, error_payload

__all__ = ["Server", "PROTOCOL_VERSION", "TERMINATING"]

PROTOCOL_VERSION = 2  # 2: stream messages may come batched (MESSAGES)
_loads = codec.loads
INLINE_S = 0.002  # a call run without handing the lead on gets it handed on after this long
BUSY_S = 0.001  # calls started closer together than this run without handing the lead on
_READ_AHEAD = 64  # calls a leader takes from one burst before it runs them
_CALLS = ("ExecuteTool", "ExecuteStreamingTool")


class Server:
    def __init__(self, target: Any, tools: Dict[str, Tool], *, worker_id: str, capacity: int,
                 reader: FrameReader, writer: FrameWriter) -> None:
        self.target = target
        self.tools = tools
        self.worker_id = worker_id
        self.capacity = max(1, capacity)
        self._reader = reader
        self._writer = writer
        self.calls: Dict[int, CallState] = {}
        self.sessions = SessionStore()
        self.host = HostClient(self.send)
        self.runner = CallRunner(tools, host=self.host, sessions=self.sessions, send=self.send, calls=self.calls,
                                 fallback=lambda name: compat.passthrough_tool(target, name), send_chunk=self.send_chunk,
                                 write=writer.write_packet, flush=writer.flush, hold=writer.hold_packet,
                                 queue=writer.queue_packet)
        self.control = Control(self)
        self._lead = threading.Lock()
        self._handoff = threading.Lock()
        self._inline_since = 0.0  # when the call running with the lead started (0: none)
        self._handed = False  # the flusher handed the lead on while that call ran
        self._last_start = 0.0
        self._slots = threading.Lock()
        self._busy = 0
        self._waiting: "deque[CallState]" = deque()
        self.stopping = False
        self.last_heard = time.monotonic()
        self.exit = exit_group  # replaced in tests that must outlive the host

    def send(self, packet: Dict[str, Any]) -> None:
        payload, attachments, typed = codec.dumps(packet)
        try:
            self._writer.write_packet(payload, attachments, typed)
        except OSError as exc:
            # The pipe to the host broke or a tool closed it under us: no answer can reach the host
            # any more (and half a frame may be out). Leave now, so the host sees a crash at once
            # instead of waiting for the call's deadline and three missed heartbeats.
            try:
                os.write(2, f"snakepit worker: the protocol pipe to the host failed ({exc}); exiting\n".encode())
            except OSError:
                pass
            self.exit(1)
            raise

    def send_chunk(self, call_id: int, seq: int, data: Any) -> None:
        """One stream message; plain scalars skip the general codec (same bytes)."""
        payload = chunk_packet(call_id, seq, data)
        if payload is None:
            self.send({"k": MESSAGE, "id": call_id, "msg": {"data": data, "seq": seq}})
        else:
            self._writer.queue_packet(payload, seq == 0)

    # ---- main loop -----------------------------------------------------------------------
    def serve(self) -> None:
        fork_guard.install(self)
        telemetry.attach(self.host.notify)
        self.host.request("Ready", {
            "workerId": self.worker_id,
            "pid": os.getpid(),
            "protocolVersion": PROTOCOL_VERSION,
            "pythonVersion": sys.version.split()[0],
            "tools": [t.spec() for t in self.tools.values()],
            "capacity": self.capacity,
            "features": [f for f, ok in (("orjson", codec._fast_loads is not codec.json.loads), ("numpy", codec.has_numpy())) if ok],
        }, wait=False, on_end=self._on_ready)
        for i in range(self.capacity):
            threading.Thread(target=self._thread_main, name=f"snakepit-{i + 1}", daemon=True).start()
        self._thread_main()

    def _on_ready(self, reply: Any, error: Optional[Dict[str, Any]]) -> None:
        """The host answered Ready: it may refuse us, or speak another protocol version."""
        if error is not None:
            self.control.fail(f"the host refused this worker: {error.get('message', error)}")
        host_version = (reply or {}).get("protocolVersion") or 0
        self.runner.batch_writer = self._writer if host_version == PROTOCOL_VERSION else None  # reads MESSAGES
        if host_version and host_version != PROTOCOL_VERSION:
            from . import __version__

            self.control.fail(
                f"protocol version mismatch: the host speaks protocol version {host_version}, this worker "
                f"(snakepit_bridge {__version__}) speaks protocol version {PROTOCOL_VERSION}; "
                "use the snakepit_bridge that ships with the host"
            )

    def _thread_main(self) -> None:
        """Lead (read and dispatch) until calls are ours to run; run them; repeat.

        When every slot is taken, the leader first drains the packets already read from the pipe
        (a burst), so the calls of a burst run back to back and their answers share one write (an
        answer is held only while the next call's tool has been quick). With one slot, calls of
        tools that have been quick and cannot wait on the host run without handing the lead on
        (no thread wakes); one that turns slow is noticed by the flusher thread (`_watch`), which
        hands the lead to a follower after `INLINE_S`, so reading never stops for long.
        """
        read = self._reader.read_packet
        buffered = self._reader.buffered
        slots = self._slots
        waiting = self._waiting
        run = self.runner.run
        quick = self.runner.quick
        inline_ok = self.runner.inline_ok
        lead = self._lead
        writer = self._writer
        mine: "deque[CallState]" = deque()
        while True:
            lead.acquire()
            led = True
            try:
                while led:
                    while not mine or (self._busy >= self.capacity and buffered() and len(mine) < _READ_AHEAD):
                        try:
                            packet = read()
                        except ProtocolError as exc:
                            self.control.fail(f"the host's byte stream is out of step: {exc}")
                            return
                        if packet is None:
                            shm.cleanup(host_gone=True)  # its segments in transit too
                            self.exit()  # our stdin closed: the host is gone
                            return
                        self.last_heard = time.monotonic()
                        call = self._receive(packet)
                        if call is not None:
                            mine.append(call)
                    while mine:
                        call = mine.popleft()
                        now = time.monotonic()
                        # Inline only while calls come close together (or the flusher polls anyway):
                        # a lone call hands the lead on rather than wake the flusher to watch it.
                        if led and (call.msg.get("toolName") not in inline_ok or self.capacity != 1 or (
                                now - self._last_start > BUSY_S and not writer.watching())):
                            led = False
                            lead.release()  # a follower reads on while this thread runs calls
                        self._last_start = now
                        nxt = mine[0] if mine else (waiting[0] if waiting else None)
                        if nxt is not None and nxt.msg.get("toolName") in quick:
                            call.hold = True
                        if led:
                            self._inline_since = now  # before the check: see the flusher's loop
                            if not writer.watching():
                                writer.watch(self._watch)
                            try:
                                run(call)
                            finally:
                                with self._handoff:
                                    self._inline_since = 0.0
                                    if self._handed:  # the flusher gave the lead to a follower meanwhile
                                        self._handed = led = False
                        else:
                            run(call)
                        # Drop this thread's references to the finished call: its arguments (a
                        # shared-memory segment, say) go back now, not when the next packet comes.
                        call = nxt = None
                        with slots:
                            if waiting:
                                mine.append(waiting.popleft())
                            else:
                                self._busy -= 1
                    if not (led and buffered()):
                        writer.flush()
            finally:
                if led:
                    lead.release()

    def _watch(self) -> bool:
        """Flusher, each poll: hand the lead on from a call that runs too long; True while one runs with it."""
        since = self._inline_since
        if not since:
            return False
        if time.monotonic() - since >= INLINE_S:
            with self._handoff:
                if self._inline_since == since and not self._handed:
                    self._handed = True
                    self._lead.release()
        return True

    def _receive(self, packet: "tuple[int, bytes, list]") -> Optional[CallState]:
        """Decode and dispatch one packet; a bad one is answered, never fatal."""
        flags, payload, attachments = packet
        try:
            if not flags and len(payload) < _QUICK and b"\\u" not in payload:
                try:  # decode_packet's quick path, inline
                    msg = _loads(payload)
                except Exception:  # noqa: BLE001 - decode_packet names the problem
                    msg = decode_packet(flags, payload, attachments)
            else:
                msg = decode_packet(flags, payload, attachments)
            return self._dispatch(msg)
        except UndecodablePacket as exc:
            self._undecodable(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. a packet without "k": the reader survives
            print(f"snakepit worker {self.worker_id}: dropped a packet it could not read: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
        return None

    def _undecodable(self, exc: UndecodablePacket) -> None:
        if exc.kind in (REQUEST, STREAM_REQUEST) and exc.call_id is not None:
            self.calls.pop(exc.call_id, None)
            self.send({"k": END, "id": exc.call_id, "error": error_payload(exc)})
        elif exc.kind == END and exc.call_id is not None:  # a host reply we cannot read
            self.host.on_end(exc.call_id, None, error_payload(exc))
        else:
            print(f"snakepit worker {self.worker_id}: dropped a packet it could not decode: {exc}", file=sys.stderr)

    def _dispatch(self, packet: Dict[str, Any]) -> Optional[CallState]:
        """Handle one packet; returns a call for the current thread to run now, if any."""
        kind = packet["k"]
        call_id = packet["id"]
        if kind == REQUEST or kind == STREAM_REQUEST:
            method = packet.get("m", "")
            body = packet.get("msg") or {}
            if method not in _CALLS:
                self.control.answer(call_id, method, body)
                return None
            # Admit a call (inline: this is the hot path).
            now = time.monotonic()
            timeout_ms = packet.get("t")
            call = CallState(call_id, method, body, now + timeout_ms / 1000 if timeout_ms else None, now)
            if kind == STREAM_REQUEST:
                call.credits = int(packet.get("n") or STREAM_WINDOW)
                call.credit_cond = threading.Condition()
            self.calls[call_id] = call
            if self.stopping:
                self.runner.finish(call, error=BridgeError("worker is shutting down", code="worker_unavailable"))
                return None
            with self._slots:
                if self._busy < self.capacity:
                    self._busy += 1
                    return call
                self._waiting.append(call)
            return None
        elif kind == CANCEL:
            self._cancel(call_id)
        elif kind == CREDIT:
            call = self.calls.get(call_id)
            if call is not None and call.credit_cond is not None:
                with call.credit_cond:
                    call.credits += int(packet.get("n") or 0)
                    call.credit_cond.notify()
        elif kind == MESSAGE:
            self.host.on_message(call_id, packet.get("msg"))
        elif kind == END:
            self.host.on_end(call_id, packet.get("msg"), packet.get("error"))
        return None

    def _cancel(self, call_id: int) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        with self._slots:
            queued = call in self._waiting
            if queued:
                self._waiting.remove(call)
        call.cancelled = True
        if queued:  # never started: answer now instead of after the running call
            self.runner.finish(call)
            return
        self.runner.cancel(call)

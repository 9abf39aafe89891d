"""A real worker process driven over its pipes, as the host drives it (for tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

from snakepit_bridge.codec import dumps, loads, revive
from snakepit_bridge.framing import FLAG_TYPED, FrameReader, FrameWriter
from snakepit_bridge.wire import END, REQUEST

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class WorkerProcess:
    """`python -m snakepit_bridge --adapter FIXTURE`; `ready` is its Ready request."""

    def __init__(self, adapter: str, *, answer_ready: Optional[Dict[str, Any]] = None,
                 ready_error: Optional[Dict[str, Any]] = None, capacity: int = 1, env: Optional[Dict[str, str]] = None) -> None:
        path = os.path.join(FIXTURES, adapter) if adapter.endswith(".py") and not os.path.isabs(adapter) else adapter
        full_env = dict(os.environ, PYTHONPATH=PYTHON_DIR, SNAKEPIT_TELEMETRY_SAMPLE_S="0", **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "snakepit_bridge", "--adapter", path, "--worker-id", "tw", "--capacity", str(capacity)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, cwd=FIXTURES,
        )
        self.telemetry: List[Dict[str, Any]] = []
        self.reader = FrameReader(self.proc.stdout.fileno())
        self.writer = FrameWriter(self.proc.stdin.fileno())
        self.ready = self.recv()
        assert self.ready.get("m") == "Ready", self.ready
        if ready_error is not None:
            self.send({"k": END, "id": self.ready["id"], "error": ready_error})
        else:
            self.send({"k": END, "id": self.ready["id"], "msg": answer_ready if answer_ready is not None else {}})

    def send(self, packet: Dict[str, Any]) -> None:
        payload, atts, typed = dumps(packet)
        self.writer.write_packet(payload, atts, typed)

    def send_raw(self, payload: bytes) -> None:
        self.writer.write_packet(payload)

    def recv(self) -> Dict[str, Any]:
        """The next packet, answering (and skipping) telemetry batches."""
        while True:
            packet = self.reader.read_packet()
            if packet is None:
                raise EOFError(f"worker exited: {self.close()}")
            flags, payload, atts = packet
            msg = loads(payload)
            msg = revive(msg, atts) if flags & FLAG_TYPED else msg
            if msg.get("k") == REQUEST and msg.get("m") == "StreamTelemetry":
                self.telemetry.extend(msg["msg"].get("events") or [])
                self.send({"k": END, "id": msg["id"], "msg": {}})
                continue
            return msg

    def call(self, call_id: int, tool: str, args: Dict[str, Any], **extra: Any) -> Dict[str, Any]:
        """Send ExecuteTool and return its END."""
        packet: Dict[str, Any] = {"k": REQUEST, "id": call_id, "m": "ExecuteTool", "msg": {"toolName": tool, "args": args, **extra}}
        self.send(packet)
        return self.recv()

    def close(self) -> str:
        """Close stdin, wait for the exit, return stderr."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = self.proc.stderr.read() if not self.proc.stderr.closed else b""
        for pipe in (self.proc.stdout, self.proc.stderr):
            pipe.close()
        return (err or b"").decode("utf-8", "replace")

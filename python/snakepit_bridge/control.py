"""Control RPCs (answered on the reading thread), and how a worker stops."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, NoReturn

from . import telemetry
from .errors import BridgeError
from .wire import END, error_payload

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server

__all__ = ["Control", "exit_group", "EXIT_REFUSED"]

EXIT_REFUSED = 78  # EX_CONFIG: the host refused us (e.g. another protocol version)


def exit_group(code: int = 0) -> None:
    """Exit, taking the subprocesses our tools started (our process group) with us.

    A refusal (code != 0) exits with its code so the host can tell why; the host's own sweep
    then takes the group.
    """
    try:
        from . import reaper, shm

        if not reaper.owns_worker():  # a copy a tool forked: the worker's segments and tree are not its own
            return
        shm.cleanup()  # segments we created that the host never mapped
        sys.stderr.flush()
        from .reaper import kill_tree

        kill_tree()  # descendants that left our group (setsid, double fork) too
        if code == 0 and os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    finally:
        os._exit(code)


class Control:
    def __init__(self, server: "Server") -> None:
        self._server = server

    def answer(self, call_id: int, method: str, body: Dict[str, Any]) -> None:
        try:
            reply = self.reply(method, body)
            self._server.send({"k": END, "id": call_id, "msg": reply})
        except BaseException as exc:  # noqa: BLE001 - every request gets an answer
            self._server.send({"k": END, "id": call_id, "error": error_payload(exc)})

    def reply(self, method: str, body: Dict[str, Any]) -> Dict[str, Any]:
        server = self._server
        if method == "Heartbeat":
            return {
                "seq": body.get("seq", 0),
                "inFlight": len(server.calls),
                "rssBytes": telemetry.rss_bytes(),
                "sessions": len(server.sessions),
            }
        if method == "Ping":
            return {"message": body.get("message", "pong"), "pid": os.getpid(), "workerId": server.worker_id}
        if method == "ListTools":
            return {"tools": [t.spec() for t in server.tools.values()]}
        if method == "InitializeSession":
            return {"existed": server.sessions.initialize(body.get("sessionId", ""))}
        if method == "CleanupSession":
            return {"existed": server.sessions.cleanup(body.get("sessionId", ""))}
        if method == "ConfigureTelemetry":
            try:
                telemetry.configure(body)
            except ValueError as exc:
                raise BridgeError(f"telemetry control refused: {exc}", code="invalid_argument") from None
            return {}
        if method == "Shutdown":
            server.stopping = True
            grace_ms = int(body.get("graceMs") or 2000)
            threading.Thread(target=self._drain_and_exit, args=(grace_ms,), daemon=True).start()
            return {}
        raise BridgeError(f"unknown method {method!r}", code="not_found")

    def fail(self, reason: str) -> NoReturn:  # type: ignore[misc]
        """Say why on stderr (the host shows it with the exit) and exit with EXIT_REFUSED."""
        print(f"snakepit worker {self._server.worker_id}: {reason}", file=sys.stderr)
        self._server.exit(EXIT_REFUSED)

    def start_watchdog(self, timeout_s: float) -> None:
        """Exit when the host sends nothing (not even a heartbeat) for `timeout_s`: it is wedged."""
        server = self._server

        def watch() -> None:
            while True:
                time.sleep(min(1.0, timeout_s / 4))
                silent = time.monotonic() - server.last_heard
                if silent > timeout_s:
                    print(f"snakepit worker {server.worker_id}: no word from the host for {silent:.1f} s; exiting", file=sys.stderr)
                    server.exit()

        threading.Thread(target=watch, name="snakepit-watchdog", daemon=True).start()

    def _drain_and_exit(self, grace_ms: int) -> None:
        server = self._server
        deadline = time.monotonic() + grace_ms / 1000
        while server.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        telemetry.flush()
        teardown = getattr(server.target, "teardown", None)
        if callable(teardown):
            try:
                teardown()
            except Exception:  # noqa: BLE001
                pass
        server.exit()

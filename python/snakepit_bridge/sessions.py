"""Per-session state dicts a worker keeps until the host ends the session."""

from __future__ import annotations

import threading
from typing import Any, Dict

__all__ = ["SessionStore"]


class SessionStore:
    """`state(id)` is the dict `ctx.state` returns; `cleanup(id)` closes what it holds."""

    def __init__(self) -> None:
        self._sessions: Dict[str, Dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def state(self, session_id: str) -> Dict[str, Any]:
        with self._lock:
            state = self._sessions.get(session_id)
            if state is None:
                state = self._sessions[session_id] = {}
            return state

    def initialize(self, session_id: str) -> bool:
        """Create the session's state; True when it existed already."""
        with self._lock:
            existed = session_id in self._sessions
            self._sessions.setdefault(session_id, {})
            return existed

    def cleanup(self, session_id: str) -> bool:
        """Drop the session's state, calling `close()` on values that have one; True when it existed."""
        with self._lock:
            state = self._sessions.pop(session_id, None)
        if state is None:
            return False
        for value in state.values():
            close = getattr(value, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001 - best effort
                    pass
        return True

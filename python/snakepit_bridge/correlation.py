"""The current call's correlation id, readable anywhere in the tool's code.

The call runner binds the id the host sent for the call; `get_correlation_id()` reads it (also
from async tools and log records). The original Snakepit's helpers are kept under their names.
"""

from __future__ import annotations

import contextvars
from typing import Any, Dict, Optional

__all__ = [
    "CORRELATION_HEADER",
    "get_correlation_id",
    "set_correlation_id",
    "reset_correlation_id",
    "new_correlation_id",
    "outgoing_metadata",
]

CORRELATION_HEADER = "x-snakepit-correlation-id"
_current: "contextvars.ContextVar[Optional[str]]" = contextvars.ContextVar("snakepit_correlation_id", default=None)


def get_correlation_id() -> Optional[str]:
    """The correlation id of the call running in this thread or task, else None."""
    return _current.get()


def set_correlation_id(correlation_id: Optional[str]) -> "contextvars.Token[Optional[str]]":
    """Bind an id (a new one when empty); returns a token for `reset_correlation_id`."""
    return _current.set(correlation_id or new_correlation_id())


def reset_correlation_id(token: "contextvars.Token[Optional[str]]") -> None:
    _current.reset(token)


def new_correlation_id() -> str:
    import uuid  # on first use: it costs start-up time every worker would pay

    return uuid.uuid4().hex


def outgoing_metadata(metadata: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """`metadata` plus the current correlation id under CORRELATION_HEADER (when there is one)."""
    out = dict(metadata or {})
    cid = get_correlation_id()
    if cid:
        out[CORRELATION_HEADER] = cid
    return out


def bind(correlation_id: str) -> "contextvars.Token[Optional[str]]":
    """Bind exactly `correlation_id` (None when empty): used by the call runner."""
    return _current.set(correlation_id or None)

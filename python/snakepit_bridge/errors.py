"""Errors with stable codes: the host's closed `SnakepitErrorCode` set, mirrored.

`ERROR_CODES` lists every code of src/errors.ts (a test compares the two sets), and
`CONNECT_CODES` maps each one to the Connect code it travels with, as src/bridge/wire-errors.ts
does. A tool raises a `BridgeError` subclass (or `BridgeError(..., code=...)`) to fail with a
given code; any other exception is a `python_exception`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

__all__ = [
    "ERROR_CODES",
    "CONNECT_CODES",
    "BridgeError",
    "InvalidArgument",
    "ToolNotFound",
    "Cancelled",
    "DeadlineExceeded",
    "ProtocolMismatch",
    "HostToolError",
]

ERROR_CODES: Tuple[str, ...] = (
    "config_invalid",
    "pool_closed",
    "pool_saturated",
    "queue_timeout",
    "worker_spawn_failed",
    "worker_crashed",
    "worker_unavailable",
    "worker_busy",
    "deadline_exceeded",
    "aborted",
    "tool_not_found",
    "invalid_argument",
    "python_exception",
    "session_not_found",
    "session_worker_lost",
    "session_limit",
    "circuit_open",
    "unauthenticated",
    "not_found",
    "payload_too_large",
    "internal",
)

# snakepit code -> Connect code (the same table as the host's CONNECT_CODE).
CONNECT_CODES: Dict[str, str] = {
    "config_invalid": "invalid_argument",
    "pool_closed": "unavailable",
    "pool_saturated": "resource_exhausted",
    "queue_timeout": "deadline_exceeded",
    "worker_spawn_failed": "unavailable",
    "worker_crashed": "unavailable",
    "worker_unavailable": "unavailable",
    "worker_busy": "resource_exhausted",
    "deadline_exceeded": "deadline_exceeded",
    "aborted": "canceled",
    "tool_not_found": "not_found",
    "invalid_argument": "invalid_argument",
    "python_exception": "unknown",
    "session_not_found": "not_found",
    "session_worker_lost": "failed_precondition",
    "session_limit": "resource_exhausted",
    "circuit_open": "unavailable",
    "unauthenticated": "unauthenticated",
    "not_found": "not_found",
    "payload_too_large": "resource_exhausted",
    "internal": "internal",
}


class BridgeError(Exception):
    """An error that crosses the wire with a code the host understands.

    Subclasses fix the code; `BridgeError("...", code="session_limit")` picks any known one.
    """

    code = "internal"

    def __init__(
        self,
        message: str,
        *,
        field: str = "",
        context: Optional[Dict[str, Any]] = None,
        code: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            if code not in CONNECT_CODES:
                raise ValueError(f"unknown snakepit error code {code!r}; known: {', '.join(ERROR_CODES)}")
            self.code = code
        self.message = message
        self.field = field
        self.context = context or {}


class InvalidArgument(BridgeError, TypeError):
    code = "invalid_argument"


class ToolNotFound(BridgeError, LookupError):
    code = "tool_not_found"


class Cancelled(BridgeError):
    """Raised inside a tool (by `ctx.check_cancelled()`) once the host cancelled the call."""

    code = "aborted"


class DeadlineExceeded(BridgeError):
    code = "deadline_exceeded"


class ProtocolMismatch(BridgeError):
    """The host and this bridge speak different protocol versions."""

    code = "worker_spawn_failed"


class HostToolError(Exception):
    """A host tool failed; `code` is the host's error code (e.g. "invalid_argument").

    Not a BridgeError on purpose: if a tool lets it escape, the tool's own call fails as a
    python_exception (the host's code is kept as context), so a host-side code such as
    "pool_saturated" never makes the host think the tool did not run.
    """

    def __init__(self, code: str, message: str, *, tool: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.tool = tool

"""Errors with stable codes that mirror the host's `SnakepitErrorCode`."""

from __future__ import annotations

from typing import Any, Dict, Optional

__all__ = ["BridgeError", "InvalidArgument", "ToolNotFound", "Cancelled", "DeadlineExceeded", "HostToolError"]


class BridgeError(Exception):
    """An error that crosses the wire with a code the host understands."""

    code = "internal"

    def __init__(self, message: str, *, field: str = "", context: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
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

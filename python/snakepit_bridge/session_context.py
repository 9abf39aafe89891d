"""The original Snakepit's `SessionContext`: the session id and calls back into the host.

`call_elixir_tool(name, **kwargs)` calls a host tool (the host is where the original's Elixir
side was); `elixir_tools` lists those the session can see. `call_host_tool` is the same call
under a name that fits this runtime.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

from .context import ToolContext
from .errors import HostToolError

__all__ = ["SessionContext"]


class SessionContext:
    """Per-call view of the session, handed to `set_session_context`."""

    def __init__(self, ctx: Any = None, session_id: Optional[str] = None) -> None:
        # The original took (stub, session_id); a ToolContext takes the stub's place here.
        self._ctx: Optional[ToolContext] = ctx if isinstance(ctx, ToolContext) else None
        self.stub = None if self._ctx is not None else ctx
        self.session_id: str = session_id if session_id is not None else (self._ctx.session_id if self._ctx else "")
        self.request_metadata: Dict[str, str] = dict(self._ctx.metadata) if self._ctx else {}
        self.correlation_id: str = self._ctx.correlation_id if self._ctx else ""
        self._elixir_tools: Optional[Dict[str, Any]] = None

    def _host(self) -> ToolContext:
        if self._ctx is None:
            raise RuntimeError("this SessionContext is not attached to a call: it cannot reach the host")
        return self._ctx

    @property
    def elixir_tools(self) -> Dict[str, Any]:
        """Host tools this session can call: name -> {name, description, parameters} (loaded once)."""
        if self._elixir_tools is None:
            specs = self._host().host_tools()
            self._elixir_tools = {
                s["name"]: {"name": s["name"], "description": s.get("description", ""), "parameters": s.get("parameters") or {}}
                for s in specs
            }
        return self._elixir_tools

    host_tools = elixir_tools

    @property
    def state(self) -> Dict[str, Any]:
        """The per-session dict this worker keeps (see ToolContext.state)."""
        return self._host().state

    def call_elixir_tool(self, tool_name: str, **kwargs: Any) -> Any:
        """Call a host tool; ValueError when the session cannot see it, RuntimeError when it fails."""
        if tool_name not in self.elixir_tools:
            raise ValueError(f"Elixir tool '{tool_name}' not found. Available tools: {sorted(self.elixir_tools)}")
        try:
            return self._host().call(tool_name, **kwargs)
        except HostToolError as exc:
            raise RuntimeError(f"Failed to call Elixir tool '{tool_name}': {exc.code}: {exc.message}") from exc

    call_host_tool = call_elixir_tool

    def stream_elixir_tool(self, tool_name: str, **kwargs: Any) -> Iterator[Any]:
        """Iterate over the chunks of a host tool that yields."""
        return self._host().stream(tool_name, **kwargs)

    def check_cancelled(self) -> None:
        if self._ctx is not None:
            self._ctx.check_cancelled()

    def cleanup(self) -> None:
        """Kept for the original's callers; the host owns the session's lifetime, so nothing to do."""

    def __enter__(self) -> "SessionContext":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.cleanup()
        return False

    def __repr__(self) -> str:
        return f"SessionContext(session_id={self.session_id!r})"



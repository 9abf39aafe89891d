"""Serving original-style adapters: a new instance per call, with its session context.

`request_scope` creates the instance, hands it the call's `SessionContext`, runs `initialize()`,
yields the function that dispatches through `execute_tool`, and runs `cleanup()` at the end,
even when the call failed (after a stream's last chunk for streaming tools).
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Callable, Dict, Iterator, Optional

from .adapter import Tool
from .base_adapter import overrides_execute_tool
from .context import ToolContext
from .session_context import SessionContext

__all__ = ["request_scope", "passthrough_tool"]

RunAsync = Callable[[Any], Any]


def _settle(value: Any, run_async: RunAsync) -> Any:
    return run_async(value) if inspect.isawaitable(value) else value


def _call_hook(adapter: Any, name: str, run_async: RunAsync) -> None:
    hook = getattr(adapter, name, None)
    if callable(hook):
        _settle(hook(), run_async)


@contextlib.contextmanager
def request_scope(tool: Tool, ctx: Optional[ToolContext], run_async: RunAsync) -> Iterator[Callable[[Dict[str, Any]], Any]]:
    cls = tool.adapter_class
    assert cls is not None
    adapter = tool.shared if tool.shared is not None else cls()
    session = SessionContext(ctx)
    setter = getattr(adapter, "set_session_context", None)
    if callable(setter):
        setter(session)
    else:
        adapter.session_context = session
    try:
        _call_hook(adapter, "initialize", run_async)

        def invoke(args: Dict[str, Any]) -> Any:
            execute = getattr(adapter, "execute_tool", None)
            if callable(execute):
                result = execute(tool_name=tool.name, arguments=args, context=session)
            else:
                result = getattr(adapter, tool.attr)(**args)
            return _settle(result, run_async)

        yield invoke
    finally:
        _call_hook(adapter, "cleanup", run_async)


def passthrough_tool(target: Any, name: str) -> Optional[Tool]:
    """For an adapter routing names in its own `execute_tool`: a tool that accepts any arguments."""
    cls = type(target)
    if not name or not overrides_execute_tool(cls):
        return None

    def routed(**kwargs: Any) -> Any:
        """Routed by the adapter's own execute_tool."""

    found = Tool(name, routed, "routed by the adapter's execute_tool", False)
    found.adapter_class = cls
    found.shared = target if getattr(cls, "__thread_safe__", False) is True else None
    return found

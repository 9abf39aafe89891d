"""The original Snakepit's adapter API: `BaseAdapter` and `@tool`, so its adapters run as they are.

A class deriving from `BaseAdapter` is served the original's way: each call gets a new
instance, then `set_session_context(SessionContext)`, `initialize()`, `execute_tool(tool_name=,
arguments=, context=)` and, whatever happens, `cleanup()` (any of them may be async). The
default `execute_tool` calls the decorated method; an adapter may override it to route names of
its own (calls to names that are not decorated tools then reach it too).
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional

from .adapter import ToolMetadata, tool
from .chunks import StreamChunk

__all__ = ["BaseAdapter", "tool", "ToolMetadata", "StreamChunk"]


class BaseAdapter:
    """Base class of original-style adapters (a new instance per call)."""

    def __init__(self) -> None:
        self._tools_cache: Optional[List[Dict[str, Any]]] = None
        self.session_context: Any = None

    def set_session_context(self, session_context: Any) -> None:
        """Called before each call with that call's `SessionContext`."""
        self.session_context = session_context

    def initialize(self) -> None:
        """Called at the start of each call (override; may be async)."""

    def cleanup(self) -> None:
        """Called at the end of each call, even when it failed (override; may be async)."""

    def _tool_methods(self) -> Dict[str, Any]:
        from .adapter import discover_tools

        return {name: getattr(self, t.attr) for name, t in discover_tools(self).items()}

    def get_tools(self) -> List[Dict[str, Any]]:
        """Each tool's name, description, streaming flag, parameters and required variables."""
        if getattr(self, "_tools_cache", None) is not None:
            return self._tools_cache  # type: ignore[return-value]
        from .adapter import discover_tools

        tools = []
        for name, found in sorted(discover_tools(self).items()):
            params = [
                {"name": p.name, "type": getattr(p.annotation, "__name__", str(p.annotation)).lower(),
                 "required": p.required, **({} if p.required else {"default": p.default})}
                for p in found.params
            ]
            tools.append({
                "name": name,
                "description": found.description,
                "supports_streaming": found.streaming,
                "parameters": params,
                "required_variables": list(found.required_variables),
                "metadata": {"adapter_class": type(self).__name__, "module": type(self).__module__},
            })
        self._tools_cache = tools
        return tools

    def call_tool(self, tool_name: str, **kwargs: Any) -> Any:
        """Call one of this adapter's tools by name."""
        method = self._tool_methods().get(tool_name)
        if method is None:
            candidate = getattr(self, tool_name, None)
            if not callable(candidate) or tool_name.startswith("_"):
                raise AttributeError(f"Tool '{tool_name}' not found in {type(self).__name__}")
            method = candidate
        return method(**kwargs)

    def execute_tool(self, tool_name: str, arguments: Dict[str, Any], context: Any = None) -> Any:
        """Dispatch one call (the framework calls this; override to route names yourself)."""
        return self.call_tool(tool_name, **(arguments or {}))


def overrides_execute_tool(cls: type) -> bool:
    """True when an adapter class routes calls through its own `execute_tool`."""
    own = inspect.getattr_static(cls, "execute_tool", None)
    return own is not None and own is not inspect.getattr_static(BaseAdapter, "execute_tool")

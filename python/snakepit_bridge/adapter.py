"""Authoring API: `Adapter` subclasses and `@tool` functions, and their discovery."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from typing import Any, Callable, Dict, List, Optional, TypeVar

from .schema import compile_params, json_schema, make_validator

__all__ = ["Adapter", "tool", "Tool", "ToolMetadata", "discover_tools", "load_adapter"]

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__snakepit_tool__"


def tool(
    fn: Optional[F] = None,
    *,
    name: Optional[str] = None,
    description: Optional[str] = None,
    streaming: Optional[bool] = None,
    supports_streaming: Optional[bool] = None,
    required_variables: Optional[List[str]] = None,
    timeout_ms: Optional[int] = None,
    command_timeout: Optional[int] = None,
) -> Any:
    """Mark a method or module-level function as a tool.

    Generators (sync or async) are streaming tools; `streaming=True` (the original Snakepit's
    `supports_streaming=True`) marks others. `timeout_ms` (alias `command_timeout`) is the tool's
    default deadline, used when the caller gives none. `required_variables` is reported as
    metadata, as the original did.
    """
    budget = timeout_ms if timeout_ms is not None else command_timeout
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0):
        raise ValueError(f"@tool timeout_ms must be a positive whole number of milliseconds, got {budget!r}")
    is_streaming = streaming if streaming is not None else supports_streaming

    def mark(f: F) -> F:
        meta = {"name": name, "description": description, "streaming": is_streaming, "timeout_ms": budget,
                "required_variables": list(required_variables or [])}
        setattr(f, _MARK, meta)
        setattr(f, "_tool_metadata", ToolMetadata(description or _doc(f), bool(is_streaming), [], meta["required_variables"], budget))
        return f

    return mark(fn) if fn is not None else mark


class ToolMetadata:
    """The original Snakepit's per-tool metadata (`func._tool_metadata`)."""

    __slots__ = ("description", "supports_streaming", "parameters", "required_variables", "timeout_ms")

    def __init__(self, description: str = "", supports_streaming: bool = False, parameters: Optional[list] = None,
                 required_variables: Optional[List[str]] = None, timeout_ms: Optional[int] = None) -> None:
        self.description = description
        self.supports_streaming = supports_streaming
        self.parameters = parameters or []
        self.required_variables = required_variables or []
        self.timeout_ms = timeout_ms


class Adapter:
    """Base class for adapters. Override `setup()` to load models once per worker."""

    def setup(self) -> None:
        """Called once in each worker process before it reports ready."""

    def teardown(self) -> None:
        """Called once when the worker stops politely."""


class Tool:
    __slots__ = (
        "name", "description", "fn", "streaming", "is_async", "is_async_gen", "is_gen", "params", "var_kw",
        "wants_ctx", "validate", "schema", "timeout_ms", "required_variables", "adapter_class", "attr", "shared",
    )

    def __init__(self, name: str, fn: Callable[..., Any], description: str, streaming: Optional[bool],
                 timeout_ms: Optional[int] = None, required_variables: Optional[List[str]] = None) -> None:
        self.name = name
        self.fn = fn
        target = inspect.unwrap(fn)
        self.is_async_gen = inspect.isasyncgenfunction(target)
        self.is_gen = inspect.isgeneratorfunction(target)
        self.is_async = inspect.iscoroutinefunction(target)
        self.streaming = bool(streaming) or self.is_gen or self.is_async_gen
        self.description = description
        self.params, self.var_kw, self.wants_ctx = compile_params(fn)
        self.validate = make_validator(name, self.params, self.var_kw)
        self.schema = json_schema(self.params, self.var_kw)
        self.timeout_ms = timeout_ms or 0
        self.required_variables = list(required_variables or [])
        # Set for the original Snakepit's BaseAdapter: a new instance of it serves each call.
        self.adapter_class: Optional[type] = None
        self.shared: Any = None  # a thread-safe adapter's one instance, else None (one per call)
        self.attr = name

    def spec(self) -> Dict[str, Any]:
        spec: Dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "parameters": self.schema,
            "streaming": self.streaming,
            "origin": "python",
        }
        if self.timeout_ms:
            spec["timeoutMs"] = self.timeout_ms
        return spec


def _doc(fn: Callable[..., Any]) -> str:
    text = inspect.getdoc(fn) or ""
    return text.strip().split("\n\n")[0].replace("\n", " ")


def _meta(member: Any) -> Optional[Dict[str, Any]]:
    """A member's tool marks: ours, or a look-alike `_tool_metadata` from another decorator."""
    meta = getattr(member, _MARK, None)
    if meta is not None:
        return meta
    legacy = getattr(member, "_tool_metadata", None)
    if legacy is None:
        return None
    return {"name": None, "description": getattr(legacy, "description", "") or None,
            "streaming": bool(getattr(legacy, "supports_streaming", False)), "timeout_ms": getattr(legacy, "timeout_ms", None),
            "required_variables": list(getattr(legacy, "required_variables", None) or [])}


def discover_tools(target: Any) -> Dict[str, Tool]:
    """Tools of an adapter instance, or of a module's `@tool` functions."""
    tools: Dict[str, Tool] = {}
    if inspect.ismodule(target):
        members = [(n, getattr(target, n)) for n in dir(target)]
        members = [(n, m) for n, m in members if callable(m) and getattr(m, "__module__", None) == target.__name__]
    else:
        members = []
        for n in dir(type(target)):
            raw = inspect.getattr_static(type(target), n, None)
            if raw is None or _meta(raw) is None and _meta(getattr(raw, "__func__", None)) is None:
                continue
            members.append((n, getattr(target, n)))
    per_request = _per_request_class(target)
    for attr, member in members:
        meta = _meta(member)
        if meta is None:
            continue
        tool_name = meta["name"] or attr
        found = Tool(tool_name, member, meta["description"] or _doc(member), meta["streaming"],
                     meta.get("timeout_ms"), meta.get("required_variables"))
        found.adapter_class = per_request
        found.shared = target if per_request is not None and getattr(per_request, "__thread_safe__", False) is True else None
        found.attr = attr
        tools[tool_name] = found
    return tools


def _per_request_class(target: Any) -> Optional[type]:
    """The class of an original-style adapter (a new instance per call), else None."""
    from .base_adapter import BaseAdapter

    return type(target) if isinstance(target, BaseAdapter) else None


def _load_module(spec: str) -> Any:
    if spec.endswith(".py") or os.sep in spec:
        path = os.path.abspath(spec)
        if not os.path.isfile(path):
            raise ImportError(f"adapter file not found: {path}")
        mod_name = "snakepit_user_" + os.path.splitext(os.path.basename(path))[0]
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load adapter file {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        parent = os.path.dirname(path)
        if parent not in sys.path:
            # Appended: a file next to the adapter named like a standard module must not shadow it.
            sys.path.append(parent)
        module_spec.loader.exec_module(module)
        return module
    return importlib.import_module(spec)


def load_adapter(spec: str) -> Any:
    """Load "path/to/file.py[:Class]", "package.module[:Class]" or "package.module.Class".

    Without a class name, the module's single adapter class (an `Adapter` or an original-style
    `BaseAdapter` subclass) is used, else its `@tool` functions.
    """
    from .base_adapter import BaseAdapter

    module_part, _, class_name = spec.partition(":")
    if not module_part:
        raise ImportError(f"adapter spec {spec!r} names no module or file")
    try:
        module = _load_module(module_part)
    except ModuleNotFoundError:
        # The original Snakepit's form: "my_adapter.adapter.MyAdapter".
        head, _, tail = module_part.rpartition(".")
        if class_name or not head or not tail[:1].isupper():
            raise
        module, class_name = _load_module(head), tail
    if class_name:
        cls = getattr(module, class_name, None)
        if cls is None:
            raise ImportError(f"adapter class {class_name!r} not found in {module_part}")
        return cls()
    bases = (Adapter, BaseAdapter)
    classes = [
        v for v in vars(module).values()
        if inspect.isclass(v) and issubclass(v, bases) and v not in bases and v.__module__ == module.__name__
    ]
    if len(classes) == 1:
        return classes[0]()
    if len(classes) > 1:
        names = ", ".join(c.__name__ for c in classes)
        raise ImportError(f"{module_part} defines several adapters ({names}); name one as FILE:Class")
    return module

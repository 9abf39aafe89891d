"""Authoring API: `Adapter` subclasses and `@tool` functions, and their discovery."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from typing import Any, Callable, Dict, List, Optional, TypeVar

from .schema import compile_params, json_schema, make_validator

__all__ = ["Adapter", "BaseAdapter", "tool", "Tool", "discover_tools", "load_adapter"]

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__snakepit_tool__"


def tool(
    fn: Optional[F] = None,
    *,
    name: Optional[str] = None,
    description: Optional[str] = None,
    streaming: Optional[bool] = None,
) -> Any:
    """Mark a method or module-level function as a tool.

    Generators (sync or async) are streaming tools; `streaming=True` only documents that.
    """

    def mark(f: F) -> F:
        setattr(f, _MARK, {"name": name, "description": description, "streaming": streaming})
        return f

    return mark(fn) if fn is not None else mark


class Adapter:
    """Base class for adapters. Override `setup()` to load models once per worker."""

    def setup(self) -> None:
        """Called once in each worker process before it reports ready."""

    def teardown(self) -> None:
        """Called once when the worker stops politely."""


BaseAdapter = Adapter  # the seed's name


class Tool:
    __slots__ = (
        "name", "description", "fn", "streaming", "is_async", "is_async_gen", "is_gen",
        "params", "var_kw", "wants_ctx", "validate", "schema",
    )

    def __init__(self, name: str, fn: Callable[..., Any], description: str, streaming: Optional[bool]) -> None:
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

    def spec(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.schema,
            "streaming": self.streaming,
            "origin": "python",
        }


def _doc(fn: Callable[..., Any]) -> str:
    text = inspect.getdoc(fn) or ""
    return text.strip().split("\n\n")[0].replace("\n", " ")


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
            if raw is None or not hasattr(raw, _MARK) and not hasattr(getattr(raw, "__func__", None), _MARK):
                continue
            members.append((n, getattr(target, n)))
    for attr, member in members:
        meta = getattr(member, _MARK, None)
        if meta is None:
            continue
        tool_name = meta["name"] or attr
        tools[tool_name] = Tool(tool_name, member, meta["description"] or _doc(member), meta["streaming"])
    return tools


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
    """Load "path/to/file.py[:Class]" or "package.module[:Class]"; returns the adapter target.

    Without a class name, the module's single Adapter subclass is used, else its `@tool`
    functions.
    """
    module_part, _, class_name = spec.partition(":")
    if not module_part:
        raise ImportError(f"adapter spec {spec!r} names no module or file")
    module = _load_module(module_part)
    if class_name:
        cls = getattr(module, class_name, None)
        if cls is None:
            raise ImportError(f"adapter class {class_name!r} not found in {module_part}")
        return cls()
    classes = [
        v for v in vars(module).values()
        if inspect.isclass(v) and issubclass(v, Adapter) and v is not Adapter and v.__module__ == module.__name__
    ]
    if len(classes) == 1:
        return classes[0]()
    if len(classes) > 1:
        names = ", ".join(c.__name__ for c in classes)
        raise ImportError(f"{module_part} defines several adapters ({names}); name one as FILE:Class")
    return module

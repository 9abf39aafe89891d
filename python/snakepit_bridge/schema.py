"""Argument validation and JSON Schema derived from a tool's signature."""

from __future__ import annotations

import inspect
import sys
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import InvalidArgument

__all__ = ["Param", "compile_params", "check_value", "json_schema"]

_NoneType = type(None)
_UnionTypes: Tuple[Any, ...] = (typing.Union,)
if sys.version_info >= (3, 10):
    import types as _types

    _UnionTypes = (typing.Union, _types.UnionType)


class Param:
    __slots__ = ("name", "annotation", "required", "default")

    def __init__(self, name: str, annotation: Any, required: bool, default: Any) -> None:
        self.name = name
        self.annotation = annotation
        self.required = required
        self.default = default


def compile_params(fn: Callable[..., Any]) -> Tuple[List[Param], bool, bool]:
    """(params, accepts **kwargs, wants ctx) for a tool function (bound or not)."""
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations are treated as Any
        hints = {}
    params: List[Param] = []
    var_kw = False
    wants_ctx = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            continue
        annotation = hints.get(p.name, Any)
        if p.name == "ctx" or getattr(annotation, "__name__", "") == "ToolContext":
            wants_ctx = True
            continue
        required = p.default is p.empty
        params.append(Param(p.name, annotation, required, None if required else p.default))
    return params, var_kw, wants_ctx


def _type_name(tp: Any) -> str:
    if tp is Any:
        return "any"
    if tp is _NoneType:
        return "null"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return type(value).__name__


def check_value(value: Any, tp: Any, where: str) -> None:
    """Raise InvalidArgument when value does not fit annotation tp."""
    if tp is Any or tp is inspect.Parameter.empty or tp is object:
        return
    origin = typing.get_origin(tp)
    if origin in _UnionTypes:
        errors = []
        for option in typing.get_args(tp):
            try:
                check_value(value, option, where)
                return
            except InvalidArgument as exc:
                errors.append(exc)
        raise InvalidArgument(
            f"{where} must be {_type_name(tp)}, got {_describe(value)}", field=where
        )
    if tp is _NoneType or tp is None:
        if value is not None:
            raise InvalidArgument(f"{where} must be null, got {_describe(value)}", field=where)
        return
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgument(f"{where} must be a number, got {_describe(value)}", field=where)
        return
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(f"{where} must be an integer, got {_describe(value)}", field=where)
        return
    if tp is bool or tp is str:
        if not isinstance(value, tp):
            raise InvalidArgument(f"{where} must be {tp.__name__}, got {_describe(value)}", field=where)
        return
    if tp is bytes:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise InvalidArgument(f"{where} must be bytes, got {_describe(value)}", field=where)
        return
    container = origin or tp
    if container in (list, List, tuple, typing.Sequence, set):
        if not isinstance(value, list):
            raise InvalidArgument(f"{where} must be a list, got {_describe(value)}", field=where)
        args = typing.get_args(tp)
        if args and container is not tuple:
            for i, item in enumerate(value):
                check_value(item, args[0], f"{where}[{i}]")
        return
    if container in (dict, Dict, typing.Mapping):
        if not isinstance(value, dict):
            raise InvalidArgument(f"{where} must be an object, got {_describe(value)}", field=where)
        args = typing.get_args(tp)
        if len(args) == 2:
            for k, item in value.items():
                check_value(item, args[1], f"{where}.{k}")
        return
    # Other annotations (numpy arrays, user classes, Literal, ...) are not checked.


def _schema_of(tp: Any) -> Dict[str, Any]:
    if tp is Any or tp is inspect.Parameter.empty:
        return {}
    origin = typing.get_origin(tp)
    if origin in _UnionTypes:
        return {"anyOf": [_schema_of(t) for t in typing.get_args(tp)]}
    simple = {int: "integer", float: "number", str: "string", bool: "boolean", _NoneType: "null"}
    if tp in simple:
        return {"type": simple[tp]}
    if tp is bytes:
        return {"type": "string", "contentEncoding": "binary"}
    container = origin or tp
    if container in (list, List, tuple, set, typing.Sequence):
        args = typing.get_args(tp)
        return {"type": "array", **({"items": _schema_of(args[0])} if args and container is not tuple else {})}
    if container in (dict, Dict, typing.Mapping):
        args = typing.get_args(tp)
        out: Dict[str, Any] = {"type": "object"}
        if len(args) == 2:
            out["additionalProperties"] = _schema_of(args[1])
        return out
    return {}


def json_schema(params: List[Param], var_kw: bool) -> Dict[str, Any]:
    props: Dict[str, Any] = {}
    for p in params:
        prop = _schema_of(p.annotation)
        if not p.required:
            try:
                import json

                json.dumps(p.default)
                prop["default"] = p.default
            except (TypeError, ValueError):
                pass
        props[p.name] = prop
    schema: Dict[str, Any] = {
        "type": "object",
        "properties": props,
        "required": [p.name for p in params if p.required],
        "additionalProperties": var_kw,
    }
    return schema


def _fast_types(tp: Any) -> Optional[Tuple[type, ...]]:
    """Exact types that surely pass `check_value(tp)`, for a check without typing machinery."""
    if tp is Any or tp is inspect.Parameter.empty or tp is object:
        return None  # anything passes: no check at all
    simple = {int: (int,), float: (int, float), str: (str,), bool: (bool,), bytes: (bytes, bytearray, memoryview)}
    if tp in simple:
        return simple[tp]
    if tp in (list, List):
        return (list,)
    if tp in (dict, Dict):
        return (dict,)
    return ()  # containers with item types, unions, ...: the full check


def make_validator(tool_name: str, params: List[Param], var_kw: bool) -> Callable[[Dict[str, Any]], None]:
    """A fast check of call arguments; raises InvalidArgument naming the parameter."""
    known = {p.name: p for p in params}
    required = [p.name for p in params if p.required]
    fast = {p.name: _fast_types(p.annotation) for p in params}

    def validate(args: Dict[str, Any]) -> None:
        for name in required:
            if name not in args:
                raise InvalidArgument(
                    f"tool '{tool_name}': missing required argument '{name}'", field=name
                )
        for name, value in args.items():
            p = known.get(name)
            if p is None:
                if var_kw:
                    continue
                allowed = ", ".join(known) or "none"
                raise InvalidArgument(
                    f"tool '{tool_name}': unknown argument '{name}' (accepted: {allowed})",
                    field=name,
                )
            if value is None and not p.required and p.default is None:
                continue
            ok_types = fast[name]
            if ok_types is None or type(value) in ok_types:
                continue
            try:
                check_value(value, p.annotation, name)
            except InvalidArgument as exc:
                raise InvalidArgument(f"tool '{tool_name}': argument {exc.message}", field=name) from None

    return validate

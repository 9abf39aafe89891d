"""Values across the wire: plain JSON plus typed values for what JSON cannot hold.

A typed value is an object with a "__snakepit__" key: bytes and arrays point at raw attachments,
big ints and non-finite floats are spelled out. Results are converted the seed's way
(model_dump, to_dict, _asdict, tolist, isoformat), else replaced by an unserializable marker.
"""

from __future__ import annotations

import enum
import json
import math
import os
import re
import threading
from typing import Any, Callable, List, Tuple

from . import shm

__all__ = ["dumps", "loads", "loads_std", "revive", "to_wire", "unserializable_marker", "MAX_SAFE_INT"]

try:  # optional speed-up
    import orjson as _orjson  # type: ignore

    _fast_loads: Callable[[bytes], Any] = _orjson.loads
except ImportError:  # pragma: no cover - depends on the machine
    _fast_loads = json.loads

_np: Any = None  # numpy, imported on first use: it costs ~60 ms of worker start-up


def _numpy() -> Any:
    """numpy if installed (imported once, when an array first shows up), else None."""
    global _np
    if _np is None:
        try:
            import numpy  # type: ignore

            _np = numpy
        except ImportError:  # pragma: no cover - depends on the machine
            _np = False
    return _np or None


def _arrow() -> Any:
    """snakepit_bridge.arrow_ipc, imported when Arrow first shows up (worker start-up stays lean)."""
    from . import arrow_ipc

    return arrow_ipc


def has_numpy() -> bool:
    import importlib.util

    return importlib.util.find_spec("numpy") is not None

MAX_SAFE_INT = 2**53 - 1
TAG = "__snakepit__"
_BIG_DIGITS = re.compile(rb"\d{16,}")
_DETAIL = os.environ.get("SNAKEPIT_UNSERIALIZABLE_DETAIL", "none")
_REPR_MAXLEN = min(int(os.environ.get("SNAKEPIT_UNSERIALIZABLE_REPR_MAXLEN", "500") or 500), 2000)
_SECRET = re.compile(r"(?i)(api[_-]?key|token|secret|password|passwd|authorization)(\W+)\S+")


def unserializable_marker(obj: Any) -> dict:
    """The seed's marker for a value no conversion applies to."""
    cls = type(obj)
    marker: dict = {"__ffi_unserializable__": True, "__type__": f"{cls.__module__}.{cls.__qualname__}"}
    if _DETAIL in ("repr_truncated", "repr_redacted_truncated"):
        try:
            text = repr(obj)
        except Exception:  # noqa: BLE001 - a broken __repr__ must not fail the call
            text = "<repr failed>"
        if _DETAIL == "repr_redacted_truncated":
            text = _SECRET.sub(r"\1\2<redacted>", text)
        marker["__repr__"] = text[:_REPR_MAXLEN]
    return marker


_NUMPY_DTYPES = {
    "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64",
}


def _convert(obj: Any, attachments: List[bytes]) -> Any:
    """json's `default`: called only for values JSON does not know."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        handle = shm.export(obj)
        if handle:
            return {TAG: "bytes", "shm": handle}
        attachments.append(bytes(obj))
        return {TAG: "bytes", "ref": len(attachments) - 1}
    if type(obj).__name__ == "ArrowIPC" or type(obj).__module__.startswith("pyarrow"):
        tagged = _arrow().to_wire(obj, attachments)
        if tagged is not None:
            return tagged
    np = _numpy() if type(obj).__module__.startswith("numpy") else None
    if np is not None:
        if isinstance(obj, np.ndarray):
            if obj.dtype.name in _NUMPY_DTYPES:
                arr = np.ascontiguousarray(obj)
                if arr.dtype.byteorder == ">":
                    arr = arr.astype(arr.dtype.newbyteorder("<"))
                handle = shm.export(arr)
                if handle:
                    return {TAG: "ndarray", "dtype": arr.dtype.name, "shape": list(arr.shape), "shm": handle}
                attachments.append(arr.tobytes())
                return {
                    TAG: "ndarray",
                    "dtype": arr.dtype.name,
                    "shape": list(arr.shape),
                    "ref": len(attachments) - 1,
                }
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    for name in ("model_dump", "to_dict", "_asdict", "tolist", "isoformat"):
        method = getattr(obj, name, None)
        if callable(method):
            try:
                return method()
            except Exception:  # noqa: BLE001 - fall through to the marker
                break
    if hasattr(type(obj), "__dataclass_fields__"):  # dataclasses itself is imported only here
        import dataclasses

        return dataclasses.asdict(obj)
    return unserializable_marker(obj)


def _wrap_specials(value: Any) -> Any:
    """Slow path: spell out non-finite floats and ints JavaScript cannot hold exactly."""
    if isinstance(value, float):
        if math.isnan(value):
            return {TAG: "float", "value": "nan"}
        if math.isinf(value):
            return {TAG: "float", "value": "inf" if value > 0 else "-inf"}
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            return value
        return {TAG: "int", "value": str(value)}
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _wrap_specials(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wrap_specials(v) for v in value]
    return value


_tls = threading.local()


def _default(obj: Any) -> Any:
    _tls.tagged = True
    converted = _convert(obj, _tls.attachments)
    if isinstance(converted, (float, int, dict, list)):
        return _wrap_specials(converted)
    return converted


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default)
try:
    # The C encoder, built once: JSONEncoder.encode would build it again for every packet.
    from json.encoder import c_make_encoder as _c_make_encoder, encode_basestring as _encode_str

    if _c_make_encoder is None:
        raise ImportError
    _c_iterencode = _c_make_encoder(None, _default, _encode_str, None, ":", ",", False, False, False)

    def _encode(value: Any) -> str:
        return "".join(_c_iterencode(value, 0))

except ImportError:  # pragma: no cover - interpreters without the C accelerator
    _encode = _ENCODER.encode


def dumps(packet: Any) -> Tuple[bytes, List[bytes], bool]:
    """Encode a packet; returns (json bytes, attachments, has typed values)."""
    attachments: List[bytes] = []
    _tls.attachments = attachments
    _tls.tagged = False
    try:
        text = _encode(packet).encode("utf-8")
    except ValueError:
        attachments.clear()
        text = _encode(_wrap_specials(packet)).encode("utf-8")
        return text, attachments, True
    if _BIG_DIGITS.search(text):
        attachments.clear()
        text = _encode(_wrap_specials(packet)).encode("utf-8")
        return text, attachments, True
    return text, attachments, _tls.tagged


def to_wire(value: Any) -> Any:
    """A JSON-safe copy of a value (tests, telemetry): attachments become bytes markers."""
    text, _, _ = dumps(value)
    return json.loads(text)


_DECODER = json.JSONDecoder()
_str_loads = _DECODER.decode
_scan = getattr(json.scanner, "c_make_scanner", None)  # json imports its scanner module
_scan = _scan(_DECODER) if _scan is not None else None


def loads(payload: bytes) -> Any:
    if _fast_loads is json.loads:
        text = payload.decode("utf-8")
        if _scan is not None:  # the C scanner without decode()'s two layers (same result)
            try:
                value, end = _scan(text, 0)
                if end == len(text):
                    return value
            except Exception:  # noqa: BLE001 - decode() below names the problem
                pass
        return _str_loads(text)
    return _fast_loads(payload)


def loads_std(payload: bytes) -> Any:
    """`loads` with the standard decoder, whatever is installed."""
    return _str_loads(payload.decode("utf-8"))


_DTYPE_CODES = {
    "int8": "b", "uint8": "B", "int16": "h", "uint16": "H", "int32": "i", "uint32": "I",
    "int64": "q", "uint64": "Q", "float32": "f", "float64": "d",
}


def array_itemsize(dtype: str) -> int:
    import array

    return array.array(_DTYPE_CODES[dtype]).itemsize


def _revive_tag(obj: dict, attachments: List[bytes]) -> Any:
    kind = obj[TAG]
    if kind == "bytes":
        if "shm" in obj:
            return memoryview(shm.open_segment(obj["shm"]))  # over the mapping: no copy
        return attachments[obj["ref"]]
    if kind == "arrow":  # pyarrow.Table over the mapping, else ArrowIPC (.schema, .buffer)
        return _arrow().revive(shm.open_segment(obj["shm"]) if "shm" in obj else attachments[obj["ref"]])
    if kind == "float":
        return float(obj["value"])
    if kind == "int":
        return int(obj["value"])
    if kind == "ndarray":
        data = shm.open_segment(obj["shm"]) if "shm" in obj else attachments[obj["ref"]]
        dtype = obj["dtype"]
        shape = tuple(obj["shape"])
        if dtype not in _DTYPE_CODES:
            raise ValueError(f"unknown array dtype {dtype!r}")
        count = 1
        for dim in shape:
            count *= int(dim)
        itemsize = array_itemsize(dtype)
        if count * itemsize != len(data):
            raise ValueError(f"array of shape {list(shape)} and dtype {dtype} needs {count * itemsize} bytes, got {len(data)}")
        np = _numpy()
        if np is not None:
            return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
        import array

        flat = array.array(_DTYPE_CODES[dtype])
        flat.frombytes(data)
        return flat
    raise ValueError(f"unknown typed value {kind!r}")


def revive(value: Any, attachments: List[bytes]) -> Any:
    """Turn typed values back into Python objects (only called when the packet says so)."""
    if isinstance(value, dict):
        if TAG in value:
            return _revive_tag(value, attachments)
        return {k: revive(v, attachments) for k, v in value.items()}
    if isinstance(value, list):
        return [revive(v, attachments) for v in value]
    return value

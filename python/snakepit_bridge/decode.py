"""Decoding packets from the host without trusting them.

A packet that cannot be decoded (too deeply nested, not UTF-8, lone UTF-16 surrogates, bad
JSON, bad typed values) raises `UndecodablePacket`, an `invalid_argument` error that names what
is wrong and carries the packet's kind and call id when they can be read from its start, so the
call gets its answer. Nesting is limited to MAX_DEPTH levels of arguments (the whole packet may
nest PACKET_OVERHEAD levels more); the limit is checked on the bytes, before decoding.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, List, Optional, Tuple

from . import codec
from .errors import InvalidArgument
from .framing import FLAG_TYPED

__all__ = ["MAX_DEPTH", "PACKET_OVERHEAD", "UndecodablePacket", "decode_packet", "peek_header", "nesting_depth"]

MAX_DEPTH = 256  # levels of nesting a call's arguments may have (a scalar is 0, {"a": 1} is 1)
PACKET_OVERHEAD = 2  # the packet object and its "msg" around the arguments
_QUICK = 2 * (MAX_DEPTH + PACKET_OVERHEAD)  # shorter packets cannot nest past the limit
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_HEADER = re.compile(rb'^\s*\{\s*"k"\s*:\s*(\d{1,3})\s*,\s*"id"\s*:\s*(\d{1,15})\b')
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class UndecodablePacket(InvalidArgument):
    """A packet that cannot be decoded; `kind` / `call_id` are None when unreadable."""

    def __init__(self, message: str, kind: Optional[int], call_id: Optional[int], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.kind = kind
        self.call_id = call_id


def peek_header(payload: bytes) -> Tuple[Optional[int], Optional[int]]:
    """(kind, id) from the start of a packet the host wrote ({"k":..,"id":.. come first})."""
    m = _HEADER.match(payload[:64])
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def nesting_depth(payload: bytes) -> int:
    """How deeply the JSON in `payload` nests (strings skipped), without decoding it."""
    if payload.count(b"[") + payload.count(b"{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the limit: skip the scan
    brackets = _STRING.sub(b'""', payload).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(_STEP[b] for b in brackets), default=0)


def _lone_surrogate(value: Any, path: List[str]) -> Optional[str]:
    """The path of the first string (or key) holding a lone surrogate, else None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return ".".join(path) or "(packet)"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _lone_surrogate(k, path + [str(k)]) or _lone_surrogate(v, path + [str(k)])
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _lone_surrogate(v, path + [str(i)])
            if found:
                return found
    return None


def decode_packet(flags: int, payload: bytes, attachments: List[bytes]) -> Any:
    """The decoded packet; UndecodablePacket naming the problem when it cannot be decoded."""
    if len(payload) < _QUICK and not flags and b"\\u" not in payload:
        try:  # too short to nest past the limit, no escapes: the plain decoder is enough
            return codec.loads(payload)
        except Exception:  # noqa: BLE001 - the full path below names the problem
            pass
    return _decode_checked(flags, payload, attachments)


def _decode_checked(flags: int, payload: bytes, attachments: List[bytes]) -> Any:
    try:
        # Quick bound first: fewer opening brackets than the limit cannot nest past it.
        depth = nesting_depth(payload) if payload.count(b"[") + payload.count(b"{") > MAX_DEPTH else 0
        if depth > MAX_DEPTH + PACKET_OVERHEAD:
            raise InvalidArgument(
                f"arguments nest {depth - PACKET_OVERHEAD} levels deep; the limit is {MAX_DEPTH}",
                context={"limit": MAX_DEPTH, "depth": depth - PACKET_OVERHEAD},
            )
        escapes = b"\\u" in payload and _SURROGATE_ESCAPE.search(payload) is not None
        # With escaped surrogates, the standard decoder (orjson refuses them without saying where).
        msg = codec.loads_std(payload) if escapes else codec.loads(payload)
        if flags & FLAG_TYPED:
            msg = codec.revive(msg, attachments)
        if escapes:
            where = _lone_surrogate(msg, [])
            if where:
                where = where[len("msg.args."):] if where.startswith("msg.args.") else where
                raise InvalidArgument(f"text at {where} holds a lone UTF-16 surrogate, which is not valid Unicode",
                                      field=where)
        return msg
    except InvalidArgument as exc:
        kind, call_id = peek_header(payload)
        raise UndecodablePacket(exc.message, kind, call_id, field=exc.field, context=exc.context) from None
    except UnicodeDecodeError as exc:
        kind, call_id = peek_header(payload)
        raise UndecodablePacket(f"request is not valid UTF-8: {exc.reason} at byte {exc.start}", kind, call_id) from None
    except RecursionError:
        kind, call_id = peek_header(payload)
        raise UndecodablePacket(f"request nests too deeply to decode (the limit is {MAX_DEPTH})", kind, call_id,
                                context={"limit": MAX_DEPTH}) from None
    except OSError as exc:  # a shared-memory argument that cannot be opened or mapped: our side, not the caller's
        kind, call_id = peek_header(payload)
        raise UndecodablePacket(f"a shared-memory argument could not be mapped: {type(exc).__name__}: {exc}", kind, call_id,
                                code="internal") from None
    except Exception as exc:  # noqa: BLE001 - bad JSON, bad typed values: answered, never fatal
        kind, call_id = peek_header(payload)
        raise UndecodablePacket(f"request could not be decoded: {type(exc).__name__}: {exc}", kind, call_id) from None

"""Packet kinds and error encoding shared by both directions of the channel."""

from __future__ import annotations

from typing import Any, Dict

from .errors import CONNECT_CODES, BridgeError

__all__ = ["REQUEST", "STREAM_REQUEST", "MESSAGE", "END", "CANCEL", "CREDIT", "MESSAGES", "error_payload", "CONNECT_CODES"]

REQUEST = 1  # unary request
STREAM_REQUEST = 2  # server-streaming request
MESSAGE = 3  # one stream message
END = 4  # end of a call: unary response ("msg") or stream end, either may carry "error"
CANCEL = 5  # the caller gives up on a call
CREDIT = 6  # the stream consumer grants n more messages
MESSAGES = 7  # consecutive stream messages in one packet: msg {"seq": first, "data": [...]} (protocol 2)

# The seed's typed Python errors; any other exception is "PythonException" (subclasses map to
# their nearest listed base, e.g. json.JSONDecodeError -> ValueError).
SEED_KINDS = {
    "ValueError", "KeyError", "IndexError", "TypeError", "AttributeError", "ImportError", "RuntimeError",
    "NotImplementedError", "FileNotFoundError", "PermissionError", "ZeroDivisionError",
}



def error_payload(exc: BaseException, *, include_traceback: bool = True) -> Dict[str, Any]:
    """A Connect end-stream error with a snakepit ErrorInfo detail."""
    if isinstance(exc, BridgeError):
        code = exc.code
        field = exc.field
        context = exc.context
    else:
        code = "python_exception"
        field = ""
        context = {}
    info: Dict[str, Any] = {"code": code}
    if not isinstance(exc, BridgeError):
        info["pythonType"] = type(exc).__name__
        from .ml_errors import classify  # on the first error: its patterns cost start-up

        ml = classify(exc)
        host_code = getattr(exc, "code", None) if type(exc).__name__ == "HostToolError" else None
        if host_code:
            context = {"hostCode": host_code, "hostTool": getattr(exc, "tool", "")}
        if ml is not None:
            info["kind"] = ml[0]
            context = dict(ml[1])
        else:
            info["kind"] = next((c.__name__ for c in type(exc).__mro__ if c.__name__ in SEED_KINDS), "PythonException")
    if field:
        info["field"] = field
    if context:
        info["context"] = context
    if include_traceback and not isinstance(exc, BridgeError):
        import traceback  # on the first error: it costs start-up

        info["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    message = str(exc) if isinstance(exc, BridgeError) else f"{type(exc).__name__}: {exc}"
    return _well_formed({
        "code": CONNECT_CODES.get(code, "unknown"),
        "message": message,
        "details": [{"type": "snakepit.bridge.v1.ErrorInfo", "debug": info}],
    })


def _well_formed(value: Any) -> Any:
    """`value` with every string made encodable: a lone surrogate (a file name decoded with
    surrogateescape, a hostile tool's text) becomes a backslash escape. An error that could not
    be encoded would never reach the host: its call would hang until its deadline."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_well_formed(k): _well_formed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_well_formed(v) for v in value]
    return value

"""Telemetry from Python to the host: `emit()` and `span()`, through a bounded queue.

Emitting never blocks a tool: when the queue is full the event is dropped and counted, and the
count reaches the host with the next batch. Names are namespaced ("python." is put in front of
names that lack it) and validated; sampling and allow/deny globs are set by the host at run time.
Label values are bounded per event and key (MAX_LABEL_VALUES); past that they read "_other"
and the number replaced is reported. Built-in samples (memory, CPU, garbage collection) are
emitted every SNAKEPIT_TELEMETRY_SAMPLE_S seconds (default 10; 0 turns them off).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional

from . import samples
from .correlation import (
    CORRELATION_HEADER,
    get_correlation_id,
    new_correlation_id,
    outgoing_metadata,
    reset_correlation_id,
    set_correlation_id,
)
from .globs import any_glob
from .samples import rss_bytes

__all__ = [
    "emit", "span", "configure", "flush", "stats", "attach", "rss_bytes",
    "get_correlation_id", "set_correlation_id", "reset_correlation_id", "new_correlation_id",
    "outgoing_metadata", "CORRELATION_HEADER",
]
Notify = Callable[[str, Dict[str, Any]], None]

MAX_QUEUE = 10_000
BATCH = 256
FLUSH_INTERVAL_S = 0.05
MAX_LABELS = 16
MAX_LABEL_VALUES = 100
MAX_LABEL_KEYS = 1_000  # (event name, label key) pairs tracked; past that, new pairs read "_other"
SAMPLE_S = float(os.environ.get("SNAKEPIT_TELEMETRY_SAMPLE_S", "10") or 0)
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")

_lock = threading.Lock()
_queue: Deque[Dict[str, Any]] = deque()
_dropped = 0
_notify: Optional[Notify] = None
_wake = threading.Event()
_control: Dict[str, Any] = {"enabled": True, "samplingRate": 1.0}
_allowed: Callable[[str], bool] = lambda name: True
_denied: Callable[[str], bool] = lambda name: False
_sampling: List[tuple] = []
_label_values: Dict[tuple, set] = {}
_capped = 0


def configure(control: Dict[str, Any]) -> None:
    """Apply a TelemetryControl message from the host (globs as the host reads them: see glob.py)."""
    global _control, _allowed, _denied, _sampling
    rate = control.get("samplingRate")
    deny = list(control.get("deny") or [])
    allowed = any_glob(control.get("allow") or [])
    denied = any_glob(deny) if deny else (lambda name: False)
    sampling = [(any_glob([p]), float(r)) for p, r in dict(control.get("sampling") or {}).items()]
    _control = {"enabled": bool(control.get("enabled", True)), "samplingRate": float(rate if rate is not None else 1.0)}
    _allowed, _denied, _sampling = allowed, denied, sampling


def _admit(name: str) -> bool:
    if not _control["enabled"] or _denied(name) or not _allowed(name):
        return False
    rate = _control["samplingRate"]
    for matches, r in _sampling:
        if matches(name):
            rate = r
            break
    if rate >= 1.0:
        return True
    import random  # only when sampling: it costs worker start-up

    return random.random() < rate


def emit(
    name: str,
    measurements: Optional[Dict[str, Any]] = None,
    metadata: Optional[Dict[str, Any]] = None,
    correlation_id: Optional[str] = None,
    *,
    traceparent: str = "",
) -> bool:
    """Queue one event; returns False when it was filtered, sampled out or dropped.

    The correlation id defaults to the running call's (`get_correlation_id()`).
    """
    global _dropped
    if correlation_id is None:
        correlation_id = get_correlation_id() or ""
    if not name.startswith("python."):
        name = "python." + name
    if not _NAME.match(name):
        raise ValueError(
            f"telemetry event name {name!r} is invalid: use dotted lower_snake_case like 'python.my_event'"
        )
    if not _admit(name):
        return False
    labels = _bounded_labels(name, metadata)
    event = {
        "name": name,
        "measurements": {k: v for k, v in (measurements or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
        "metadata": labels,
        "timestampUs": int(time.time() * 1e6),
    }
    if correlation_id:
        event["correlationId"] = correlation_id
    if traceparent:
        event["traceparent"] = traceparent
    with _lock:
        if len(_queue) >= MAX_QUEUE:
            _dropped += 1
            return False
        _queue.append(event)
    _wake.set()
    return True


def _bounded_labels(name: str, metadata: Optional[Dict[str, Any]]) -> Dict[str, str]:
    """At most MAX_LABELS labels, and at most MAX_LABEL_VALUES distinct values per name and key."""
    global _capped
    out: Dict[str, str] = {}
    for k, v in list((metadata or {}).items())[:MAX_LABELS]:
        key, value = str(k), str(v)
        seen = _label_values.get((name, key))
        if seen is None:
            if len(_label_values) >= MAX_LABEL_KEYS:
                _capped += 1
                out[key] = "_other"
                continue
            seen = _label_values[(name, key)] = set()
        if value not in seen:
            if len(seen) >= MAX_LABEL_VALUES:
                _capped += 1
                value = "_other"
            else:
                seen.add(value)
        out[key] = value
    return out


@contextlib.contextmanager
def span(name: str, metadata: Optional[Dict[str, Any]] = None, correlation_id: Optional[str] = None,
         **kw: Any) -> Iterator[None]:
    """Emit `<name>.start`, then `<name>.stop` (with duration) or `<name>.exception`."""
    kw["correlation_id"] = correlation_id
    emit(name + ".start", {"system_time": time.time()}, metadata, **kw)
    started = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        meta = dict(metadata or {})
        meta["kind"] = type(exc).__name__
        emit(name + ".exception", {"duration_us": (time.perf_counter() - started) * 1e6}, meta, **kw)
        raise
    emit(name + ".stop", {"duration_us": (time.perf_counter() - started) * 1e6}, metadata, **kw)


def _take() -> Optional[Dict[str, Any]]:
    global _dropped, _capped
    if _capped:
        capped, _capped = _capped, 0
        emit("python.telemetry.labels_capped", {"count": capped})
    with _lock:
        if not _queue and not _dropped:
            return None
        events: List[Dict[str, Any]] = []
        while _queue and len(events) < BATCH:
            events.append(_queue.popleft())
        dropped, _dropped = _dropped, 0
    return {"events": events, "dropped": dropped}


def flush() -> None:
    notify = _notify
    if notify is None:
        return
    while True:
        batch = _take()
        if batch is None:
            return
        notify("StreamTelemetry", batch)


def _run() -> None:
    while True:
        _wake.wait(1.0)
        _wake.clear()
        time.sleep(FLUSH_INTERVAL_S)  # batch what arrives together
        try:
            flush()
        except Exception:  # noqa: BLE001 - telemetry never takes the worker down
            pass


def attach(notify: Notify) -> None:
    """Start sending batches through `notify(method, msg)` (the worker's host client)."""
    global _notify
    _notify = notify
    threading.Thread(target=_run, name="snakepit-telemetry", daemon=True).start()
    samples.start(emit, SAMPLE_S)


def stats() -> Dict[str, int]:
    with _lock:
        return {"queued": len(_queue), "dropped": _dropped}

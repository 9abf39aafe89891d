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
import fnmatch
import gc
import os
import random
import re
import threading
import time
from collections import deque
from typing import Any, Deque, Dict, Iterator, List, Optional

__all__ = ["emit", "span", "configure", "flush", "stats"]

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
_worker: Any = None
_wake = threading.Event()
_control: Dict[str, Any] = {"enabled": True, "samplingRate": 1.0, "allow": [], "deny": [], "sampling": {}}
_label_values: Dict[tuple, set] = {}
_capped = 0


def configure(control: Dict[str, Any]) -> None:
    """Apply a TelemetryControl message from the host."""
    global _control
    _control = {
        "enabled": bool(control.get("enabled", True)),
        "samplingRate": float(control.get("samplingRate", 1.0) if control.get("samplingRate") is not None else 1.0),
        "allow": list(control.get("allow") or []),
        "deny": list(control.get("deny") or []),
        "sampling": dict(control.get("sampling") or {}),
    }


def _admit(name: str) -> bool:
    c = _control
    if not c["enabled"]:
        return False
    if any(fnmatch.fnmatchcase(name, p) for p in c["deny"]):
        return False
    if c["allow"] and not any(fnmatch.fnmatchcase(name, p) for p in c["allow"]):
        return False
    rate = c["samplingRate"]
    for pattern, r in c["sampling"].items():
        if fnmatch.fnmatchcase(name, pattern):
            rate = r
            break
    return rate >= 1.0 or random.random() < rate


def emit(
    name: str,
    measurements: Optional[Dict[str, Any]] = None,
    metadata: Optional[Dict[str, Any]] = None,
    *,
    correlation_id: str = "",
    traceparent: str = "",
) -> bool:
    """Queue one event; returns False when it was filtered, sampled out or dropped."""
    global _dropped
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
def span(name: str, metadata: Optional[Dict[str, Any]] = None, **kw: Any) -> Iterator[None]:
    """Emit `<name>.start`, then `<name>.stop` (with duration) or `<name>.exception`."""
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
    worker = _worker
    if worker is None:
        return
    while True:
        batch = _take()
        if batch is None:
            return
        worker.notify_host("StreamTelemetry", batch)


def _run() -> None:
    while True:
        _wake.wait(1.0)
        _wake.clear()
        time.sleep(FLUSH_INTERVAL_S)  # batch what arrives together
        try:
            flush()
        except Exception:  # noqa: BLE001 - telemetry never takes the worker down
            pass


_gc = {"collections": 0, "collected": 0, "uncollectable": 0, "pause_s": 0.0, "started": 0.0}


def _on_gc(phase: str, info: Dict[str, Any]) -> None:
    if phase == "start":
        _gc["started"] = time.perf_counter()
    else:
        _gc["collections"] += 1
        _gc["collected"] += info.get("collected", 0)
        _gc["uncollectable"] += info.get("uncollectable", 0)
        _gc["pause_s"] += time.perf_counter() - _gc["started"]


def rss_bytes() -> int:
    """Resident memory of this process, in bytes."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def sample() -> None:
    """Emit the built-in memory, CPU and GC figures once."""
    times = os.times()
    emit("python.memory", {"rss_bytes": rss_bytes()})
    emit("python.cpu", {"user_s": times.user, "system_s": times.system, "threads": threading.active_count()})
    emit("python.gc", {"collections": _gc["collections"], "collected": _gc["collected"], "uncollectable": _gc["uncollectable"],
                       "pause_ms": _gc["pause_s"] * 1000})


def _sampler() -> None:
    while True:
        time.sleep(SAMPLE_S)
        try:
            sample()
        except Exception:  # noqa: BLE001 - telemetry never takes the worker down
            pass


def attach(worker: Any) -> None:
    """Start sending to the host through this worker's channel."""
    global _worker
    _worker = worker
    gc.callbacks.append(_on_gc)
    threading.Thread(target=_run, name="snakepit-telemetry", daemon=True).start()
    if SAMPLE_S > 0:
        threading.Thread(target=_sampler, name="snakepit-sampler", daemon=True).start()


def stats() -> Dict[str, int]:
    with _lock:
        return {"queued": len(_queue), "dropped": _dropped}

"""Built-in samples a worker emits on its own: memory, CPU and garbage collection."""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any, Callable, Dict

__all__ = ["rss_bytes", "sample", "start"]

Emit = Callable[..., Any]

_gc: Dict[str, Any] = {"collections": 0, "collected": 0, "uncollectable": 0, "pause_s": 0.0, "started": 0.0}


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


def sample(emit: Emit) -> None:
    """Emit the built-in memory, CPU and GC figures once."""
    times = os.times()
    emit("python.memory", {"rss_bytes": rss_bytes()})
    emit("python.cpu", {"user_s": times.user, "system_s": times.system, "threads": threading.active_count()})
    emit("python.gc", {"collections": _gc["collections"], "collected": _gc["collected"], "uncollectable": _gc["uncollectable"],
                       "pause_ms": _gc["pause_s"] * 1000})


def start(emit: Emit, every_s: float) -> None:
    """Track GC pauses and, when `every_s` > 0, emit samples that often from a daemon thread."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
    if every_s <= 0:
        return

    def loop() -> None:
        while True:
            time.sleep(every_s)
            try:
                sample(emit)
            except Exception:  # noqa: BLE001 - telemetry never takes the worker down
                pass

    threading.Thread(target=loop, name="snakepit-sampler", daemon=True).start()

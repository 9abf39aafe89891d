"""The original Snakepit's thread-safe adapters: one shared instance serves concurrent calls.

A `ThreadSafeAdapter` is created once per worker (its state is shared: a loaded model, counters
guarded by `acquire_lock()`); each call still gets `set_session_context`, `initialize()` and
`cleanup()`, and `self.session_context` is the running call's (kept per thread). Run such a
worker with a capacity above 1 to serve calls concurrently.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Dict, Iterator, Optional

from .base_adapter import BaseAdapter, ToolMetadata, tool

__all__ = [
    "ThreadSafeAdapter", "thread_safe_method", "require_thread_safe", "validate_thread_safety", "tool", "ToolMetadata",
]


class ThreadSafeAdapter(BaseAdapter):
    """Base class of adapters shared by concurrent calls."""

    __thread_safe__ = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        self._stats_lock = threading.Lock()
        self._requests = {"total": 0, "active": 0}
        super().__init__()

    @property  # type: ignore[override]
    def session_context(self) -> Any:
        """The running call's SessionContext (each thread sees its own call's)."""
        return getattr(self._local, "session_context", None)

    @session_context.setter
    def session_context(self, value: Any) -> None:
        self._local.session_context = value

    @contextlib.contextmanager
    def acquire_lock(self) -> Iterator[None]:
        """Hold the adapter's (re-entrant) lock: guard shared mutable state with it."""
        with self._lock:
            yield

    def get_thread_local(self, key: str, default: Any = None) -> Any:
        return getattr(self._local, "values", {}).get(key, default)

    def set_thread_local(self, key: str, value: Any) -> None:
        if not hasattr(self._local, "values"):
            self._local.values = {}
        self._local.values[key] = value

    def clear_thread_local(self, key: Optional[str] = None) -> None:
        values = getattr(self._local, "values", {})
        if key is None:
            values.clear()
        else:
            values.pop(key, None)

    @contextlib.contextmanager
    def track_request(self, request_id: Optional[str] = None) -> Iterator[int]:
        with self._stats_lock:
            self._requests["total"] += 1
            self._requests["active"] += 1
            number = self._requests["total"]
        try:
            yield number
        finally:
            with self._stats_lock:
                self._requests["active"] -= 1

    def get_stats(self) -> Dict[str, Any]:
        with self._stats_lock:
            tracker = {"total_requests": self._requests["total"], "total_active_requests": self._requests["active"]}
        return {"adapter_class": type(self).__name__, "thread_safe": self.__thread_safe__, "tracker": tracker}


def thread_safe_method(func: Callable[..., Any]) -> Callable[..., Any]:
    """Count the method's calls in the adapter's request stats (keeps `@tool` marks)."""

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(self, ThreadSafeAdapter):
            return func(self, *args, **kwargs)
        with self.track_request():
            return func(self, *args, **kwargs)

    wrapper.__thread_safe__ = True  # type: ignore[attr-defined]
    return wrapper


def validate_thread_safety(adapter_class: type) -> bool:
    return getattr(adapter_class, "__thread_safe__", False) is True


def require_thread_safe(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(adapter: Any, *args: Any, **kwargs: Any) -> Any:
        if not validate_thread_safety(type(adapter)):
            raise ValueError(f"Adapter {type(adapter).__name__} is not thread-safe: set __thread_safe__ = True")
        return func(adapter, *args, **kwargs)

    return wrapper

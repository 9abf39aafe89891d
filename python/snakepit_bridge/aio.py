"""One asyncio event loop thread for async tools; a host cancel cancels the tool's task."""

from __future__ import annotations

import threading
from typing import Any, Awaitable, Callable, Optional

from .call_state import CallState
from .errors import Cancelled

__all__ = ["EventLoop"]


class EventLoop:
    """Started on first use; coroutines run there while the call's thread waits."""

    def __init__(self) -> None:
        self._loop: Any = None
        self._lock = threading.Lock()

    def loop(self) -> Any:
        import asyncio

        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="snakepit-asyncio", daemon=True).start()
                self._loop = loop
            return self._loop

    def run(self, call: Optional[CallState], coro: Awaitable[Any], wrap: Optional[Callable[[Awaitable[Any]], Awaitable[Any]]] = None) -> Any:
        """Run `coro` on the loop and wait for it; `call.future` lets a cancel reach the task."""
        import asyncio
        import concurrent.futures

        future = asyncio.run_coroutine_threadsafe(wrap(coro) if wrap else coro, self.loop())  # type: ignore[arg-type]
        if call is None:
            return future.result()
        call.future = future
        if call.cancelled or call.expired:
            future.cancel()
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise Cancelled(f"call {call.id} was cancelled by the host") from None
        finally:
            call.future = None

    def close_async_gen(self, gen: Any) -> None:
        import asyncio

        try:
            asyncio.run_coroutine_threadsafe(gen.aclose(), self.loop()).result(timeout=2)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

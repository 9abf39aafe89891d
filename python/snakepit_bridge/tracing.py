"""Python spans through the OpenTelemetry SDK, when it is installed (it is optional).

The host sends each call's W3C traceparent. With `opentelemetry` importable and a tracer
provider configured, the tool runs in a span that is a child of it, and host tools called from
the tool get this span's traceparent, so host -> Python -> host share one trace.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

__all__ = ["tool_span", "available"]

try:  # optional dependency
    from opentelemetry import trace as _trace  # type: ignore
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator  # type: ignore

    _propagator = TraceContextTextMapPropagator()
    _tracer = _trace.get_tracer("snakepit_bridge")
    available = True
except ImportError:  # pragma: no cover - depends on the machine
    available = False


@contextlib.contextmanager
def tool_span(name: str, traceparent: str) -> Iterator[Optional[str]]:
    """Run inside a span parented by `traceparent`; yields the span's own traceparent (or None)."""
    if not available or not traceparent:
        yield None
        return
    parent: Any = _propagator.extract({"traceparent": traceparent})
    with _tracer.start_as_current_span(f"python {name}", context=parent) as span:
        carrier: dict = {}
        _propagator.inject(carrier)
        try:
            yield carrier.get("traceparent")
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(_trace.Status(_trace.StatusCode.ERROR, str(exc)))
            raise

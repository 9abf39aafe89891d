/**
 * OpenTelemetry spans through `@opentelemetry/api`: a no-op until the application registers an
 * SDK. A call is a span ("snakepit.execute <tool>"); its time in the worker is a child span
 * ("snakepit.worker <tool>") whose W3C traceparent travels to Python (and, when the Python SDK
 * is installed there, becomes the parent of Python's own span); host tools called from Python run
 * in a span ("snakepit.host_tool <name>") under the traceparent Python sends back.
 */

import { context, type Context, INVALID_SPAN_CONTEXT, ProxyTracerProvider, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";
import { SnakepitError } from "../errors.ts";

const tracer = trace.getTracer("snakepit");
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span of every call while no tracing SDK is registered: nothing to build, nothing to end. */
const NOOP_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** True while no SDK is registered (the global provider still delegates to nothing). */
function noSdk(): boolean {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider && provider.getDelegateTracer("snakepit") === undefined;
}

/** `00-<trace id>-<span id>-<flags>` for a span, or undefined for a no-op span. */
export function traceparentOf(span: Span): string | undefined {
  if (span === NOOP_SPAN) return undefined;
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & TraceFlags.SAMPLED ? 1 : 0).toString(16).padStart(2, "0")}`;
}

/** A context whose parent is the remote span named by `traceparent` (or the active one). */
export function contextFrom(traceparent: string | undefined): Context {
  const m = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!m) return context.active();
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true });
}

/** Start the span of one call. */
export function startCallSpan(tool: string, pool: string, parent: string | undefined): Span {
  if (parent === undefined && noSdk()) return NOOP_SPAN;
  return tracer.startSpan(`snakepit.execute ${tool}`, { kind: SpanKind.CLIENT, attributes: { "snakepit.tool": tool, "snakepit.pool": pool } }, contextFrom(parent));
}

/** Start the child span covering the call's time in a worker. */
export function startWorkerSpan(parent: Span, tool: string, worker: string): Span {
  return tracer.startSpan(`snakepit.worker ${tool}`, { kind: SpanKind.INTERNAL, attributes: { "snakepit.worker": worker } }, trace.setSpan(context.active(), parent));
}

/** End a span with the call's outcome. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const e = SnakepitError.from(error);
    span.setAttribute("snakepit.error_code", e.code);
    if (e.python) span.setAttribute("snakepit.python_type", e.python.type);
    span.recordException(e);
    span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
  }
  span.end();
}

/** Run a host tool inside its span, parented by the traceparent Python sent. */
export async function inHostToolSpan<T>(name: string, traceparent: string | undefined, fn: () => Promise<T> | T): Promise<T> {
  const span = tracer.startSpan(`snakepit.host_tool ${name}`, { kind: SpanKind.SERVER, attributes: { "snakepit.host_tool": name } }, contextFrom(traceparent));
  try {
    const out = await context.with(trace.setSpan(contextFrom(traceparent), span), fn);
    endSpan(span);
    return out;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

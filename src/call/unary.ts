/** A unary call through the one lifecycle: begin → guard → place → dispatch → run → settle. */

import { innerTimeoutMs } from "../config/profiles.ts";
import type { SessionLease } from "../session/lease.ts";
import { endSpan, startWorkerSpan, traceparentOf } from "../telemetry/tracing.ts";
import type { CallOptions, CallResult, WorkerLink } from "../worker/link.ts";
import type { CallHost, ExecuteOptions } from "./host.ts";
import { begin, type CallContext, settleError, settleOk, withRehydrate } from "./lifecycle.ts";

type Span = ReturnType<typeof startWorkerSpan>;

/** The options a worker gets for an attempt placed now, and the attempt's span when tracing records. */
export function workerOptions(ctx: CallContext, options: ExecuteOptions, worker: WorkerLink): [CallOptions, Span | undefined] {
  const remaining = ctx.deadline - ctx.host.clock.now();
  const metadata = options.idempotencyKey ? { ...options.metadata, "idempotency-key": options.idempotencyKey } : options.metadata;
  const finite = Number.isFinite(remaining);
  const out: CallOptions = {
    signal: options.signal,
    timeoutMs: finite ? remaining : undefined,
    innerTimeoutMs: finite ? innerTimeoutMs(remaining) : undefined,
    sessionId: ctx.lease?.id,
    metadata,
    correlationId: ctx.correlationId,
  };
  ctx.worker = worker.id;
  // Without a tracing SDK the call span is a no-op: skip the child span and its context.
  if (!ctx.span.isRecording()) {
    out.traceparent = traceparentOf(ctx.span) ?? options.traceparent;
    return [out, undefined];
  }
  const span = startWorkerSpan(ctx.span, ctx.tool, worker.id);
  out.traceparent = traceparentOf(span);
  return [out, span];
}

/** Execute `tool` on a worker of `host` (the session's, by affinity, when leased). */
export function runUnary(host: CallHost, tool: string, args: Record<string, unknown>, options: ExecuteOptions, lease?: SessionLease): Promise<CallResult> {
  let ctx: CallContext;
  try {
    ctx = begin(host, tool, false, options, lease);
  } catch (err) {
    lease?.release(false);
    return Promise.reject(err);
  }
  const mode = options.affinity ?? host.affinity;
  // One promise chain per call: this sits on the hot path, every extra hop shows in throughput.
  const attempt = (front: boolean): Promise<CallResult> => {
    if (host.isClosed) return Promise.reject(host.closedError());
    return host.dispatch({ lease, mode, prefetch: true, deadline: ctx.deadline, signal: options.signal, front, tool, client: options.client }, (w, queueMs) => {
      ctx.queueMs = queueMs;
      const [callOptions, span] = workerOptions(ctx, options, w);
      if (!span) return w.call(tool, args, callOptions);
      return w.call(tool, args, callOptions).then(
        (result) => {
          endSpan(span);
          return result;
        },
        (err: unknown) => {
          endSpan(span, err);
          throw err;
        },
      );
    });
  };
  const guardOptions = { idempotent: ctx.idempotent, signal: options.signal, deadline: ctx.deadline, tool };
  return withRehydrate(ctx, () => host.guard.run(attempt, guardOptions)).then(
    (result) => {
      settleOk(ctx, result.durationUs / 1000);
      return result;
    },
    (err: unknown) => {
      throw settleError(ctx, err);
    },
  );
}

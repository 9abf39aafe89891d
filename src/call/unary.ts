/** A unary call through the one lifecycle: begin → guard → place → dispatch → run → settle. */

import { innerTimeoutMs } from "../config/profiles.ts";
import type { SessionLease } from "../session/lease.ts";
import { endSpan, startWorkerSpan, traceparentOf } from "../telemetry/tracing.ts";
import type { CallOptions, CallResult, WorkerLink } from "../worker/link.ts";
import type { CallHost, ExecuteOptions } from "./host.ts";
import { begin, type CallContext, settleError, settleOk, withRehydrate } from "./lifecycle.ts";

type Span = ReturnType<typeof startWorkerSpan>;

/**
 * The options a worker gets for an attempt placed now, and the attempt's span when tracing records.
 * `now`: the pool's clock, read by the caller.
 */
export function workerOptions(ctx: CallContext, options: ExecuteOptions, worker: WorkerLink, now = ctx.host.clock.now()): [CallOptions, Span | undefined] {
  const remaining = ctx.deadline - now;
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

/**
 * Execute `tool` on a worker of `host` (the session's, by affinity, when leased). `unwrap`:
 * resolve with the tool's result alone instead of the CallResult.
 */
export function runUnary(host: CallHost, tool: string, args: Record<string, unknown>, options: ExecuteOptions, lease?: SessionLease): Promise<CallResult>;
export function runUnary(host: CallHost, tool: string, args: Record<string, unknown>, options: ExecuteOptions, lease: SessionLease | undefined, unwrap: true): Promise<unknown>;
export function runUnary(host: CallHost, tool: string, args: Record<string, unknown>, options: ExecuteOptions, lease?: SessionLease, unwrap = false): Promise<unknown> {
  let ctx: CallContext;
  try {
    ctx = begin(host, tool, false, options, lease);
  } catch (err) {
    lease?.release(false);
    return Promise.reject(err);
  }
  const mode = options.affinity ?? host.affinity;
  // True while the first attempt is placed in the call's own synchronous run: placed at once,
  // it starts at `ctx.t0` (no second clock read).
  let sync = true;
  // One promise chain per call: this sits on the hot path, every extra hop shows in throughput.
  const start = (w: WorkerLink, queueMs: number): Promise<CallResult> => {
    ctx.queueMs = queueMs;
    const [callOptions, span] = workerOptions(ctx, options, w, sync && queueMs === 0 ? ctx.t0 : host.clock.now());
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
  };
  const attempt = (front: boolean): Promise<CallResult> => {
    if (host.isClosed) return Promise.reject(host.closedError());
    return host.dispatch({ lease, mode, prefetch: true, deadline: ctx.deadline, signal: options.signal, front, tool, client: options.client }, start);
  };
  const guardOptions = { idempotent: ctx.idempotent, signal: options.signal, deadline: ctx.deadline, tool, now: ctx.t0 };
  // Settled in the guard's own reaction (no extra hop), or after the rehydrate step with a session.
  const ok = (result: CallResult): unknown => {
    settleOk(ctx, result.durationUs / 1000);
    return unwrap ? result.result : result;
  };
  const fail = (err: unknown): never => {
    throw settleError(ctx, err);
  };
  let out: Promise<unknown>;
  if (!lease) out = host.guard.run(attempt, guardOptions, ok, fail);
  else out = withRehydrate(ctx, () => host.guard.run(attempt, guardOptions)).then(ok, fail);
  sync = false;
  return out;
}

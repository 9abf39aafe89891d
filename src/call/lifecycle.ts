/**
 * Begin and settle: what every call and stream does first and last, identically: refuse when
 * closed, fix the deadline and correlation id, count, announce, span; then record the outcome
 * in stats, events, span and the session lease (exactly once).
 */

import { SnakepitError } from "../errors.ts";
import type { SessionLease } from "../session/lease.ts";
import { endSpan, startCallSpan } from "../telemetry/tracing.ts";
import type { CallHost, ExecuteOptions } from "./host.ts";

/** One call in progress. */
export interface CallContext {
  readonly host: CallHost;
  readonly tool: string;
  readonly t0: number;
  readonly deadline: number;
  readonly correlationId: string;
  readonly idempotent: boolean;
  readonly span: ReturnType<typeof startCallSpan>;
  readonly lease: SessionLease | undefined;
  worker: string | undefined;
  queueMs: number;
  settled: boolean;
}

export function begin(host: CallHost, tool: string, streaming: boolean, options: ExecuteOptions, lease: SessionLease | undefined): CallContext {
  if (host.isClosed) throw host.closedError();
  const t0 = host.clock.now();
  const correlationId = options.correlationId ?? host.newCorrelationId();
  host.stats.requests++;
  const bus = host.bus;
  if (bus.has("call.start")) bus.emit("call.start", { pool: host.name, tool, correlationId, sessionId: lease?.id });
  return {
    host, tool, t0, correlationId, lease,
    deadline: t0 + (options.timeoutMs ?? host.budgetMs(tool, streaming)),
    idempotent: options.idempotent === true || options.idempotencyKey !== undefined,
    span: startCallSpan(tool, host.name, options.traceparent),
    worker: undefined,
    queueMs: 0,
    settled: false,
  };
}

/** The call succeeded; `pythonMs` is the time the worker spent on it. */
export function settleOk(ctx: CallContext, pythonMs: number): void {
  if (ctx.settled) return;
  ctx.settled = true;
  const { host } = ctx;
  const durationMs = host.clock.now() - ctx.t0;
  host.stats.record(durationMs);
  endSpan(ctx.span);
  ctx.lease?.release(true);
  if (host.bus.has("call.stop")) {
    host.bus.emit("call.stop", {
      pool: host.name, worker: ctx.worker ?? "", tool: ctx.tool, durationMs, queueMs: ctx.queueMs, pythonMs, correlationId: ctx.correlationId,
    });
  }
}

/** The call failed: returns the typed error to throw. */
export function settleError(ctx: CallContext, err: unknown): SnakepitError {
  const e = SnakepitError.from(err);
  if (ctx.settled) return e;
  ctx.settled = true;
  const { host } = ctx;
  host.stats.failed++;
  e.details.correlationId ??= ctx.correlationId;
  endSpan(ctx.span, e);
  ctx.lease?.release(false);
  if (host.bus.has("call.exception")) {
    host.bus.emit("call.exception", {
      pool: host.name, worker: ctx.worker, tool: ctx.tool, code: e.code, durationMs: host.clock.now() - ctx.t0, correlationId: ctx.correlationId,
      pythonType: e.python?.type, message: e.message.slice(0, 1_000), traceback: e.python?.traceback?.slice(-8_192),
    });
  }
  return e;
}

/**
 * Run `guarded` (the guard around the attempts); when a strict session lost its worker, unbind
 * it and, with a rehydrate hook, rebuild the state on a new worker and run once more.
 */
export function withRehydrate<T>(ctx: CallContext, guarded: () => Promise<T>): Promise<T> {
  const { lease, host } = ctx;
  const first = guarded();
  if (!lease) return first;
  return first.catch(async (err: unknown) => {
    const e = SnakepitError.from(err);
    const lost = e.details.worker;
    if (e.code !== "session_worker_lost" || typeof lost !== "string" || !lease.unbind(host.name, lost)) throw e;
    // The error is reported (or handled) once; the session's next call starts on a new worker.
    if (!host.rehydrate) throw e;
    await host.rehydrate(lease, lost);
    return guarded();
  });
}

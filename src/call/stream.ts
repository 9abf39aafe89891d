/**
 * A stream through the same lifecycle as a call. An attempt dispatches the stream and waits for
 * its first chunk: until then it is retried and moved exactly like a call (crash barrier, retry
 * policy, never-started requeue, rehydrate). The first chunk commits it: from then on a failure
 * ends it (no chunk is ever delivered twice) and still counts for the breaker. A consumer that
 * stops reading for longer than `streamStallMs` gets the stream cancelled and its worker freed.
 */

import { EMPTY } from "../bridge/inbox.ts";
import { SnakepitError } from "../errors.ts";
import type { SessionLease } from "../session/lease.ts";
import { endSpan } from "../telemetry/tracing.ts";
import type { WorkerStream } from "../worker/link.ts";
import type { CallHost, ExecuteOptions } from "./host.ts";
import { begin, type CallContext, settleError, settleOk, withRehydrate } from "./lifecycle.ts";
import { workerOptions } from "./unary.ts";

/** A stream that delivered its first chunk (or ended without one). */
interface Committed {
  stream: WorkerStream;
  first: IteratorResult<unknown, void>;
}

/** Stream `tool`'s chunks from a worker of `host`. Breaking out of the loop cancels the call. */
export async function* runStream(
  host: CallHost,
  tool: string,
  args: Record<string, unknown>,
  options: ExecuteOptions,
  leaseFor?: SessionLease | (() => SessionLease),
): AsyncGenerator<unknown, void, undefined> {
  // A lease is taken when the stream starts, so a stream never iterated holds none.
  const lease = typeof leaseFor === "function" ? leaseFor() : leaseFor;
  let ctx: CallContext;
  try {
    ctx = begin(host, tool, true, options, lease);
  } catch (err) {
    lease?.release(false);
    throw err;
  }
  const mode = options.affinity ?? host.affinity;
  const attempt = async (front: boolean): Promise<Committed> => {
    if (host.isClosed) throw host.closedError();
    let span: ReturnType<typeof workerOptions>[1];
    const stream = await host.dispatch({ lease, mode, prefetch: false, deadline: ctx.deadline, signal: options.signal, front, tool, client: options.client }, (w, queueMs) => {
      ctx.queueMs = queueMs;
      const [callOptions, s] = workerOptions(ctx, options, w);
      span = s;
      return w.stream(tool, args, callOptions);
    });
    try {
      const first = await stream.chunks.next();
      if (span) endSpan(span);
      return { stream, first };
    } catch (err) {
      if (span) endSpan(span, err);
      throw err;
    }
  };
  let committed: Committed | undefined;
  let stalled: SnakepitError | undefined;
  try {
    const guardOptions = { idempotent: ctx.idempotent, signal: options.signal, deadline: ctx.deadline, tool };
    committed = await withRehydrate(ctx, () => host.guard.run(attempt, guardOptions));
    const { stream } = committed;
    // One stall timer per stream, not one per chunk, and no clock read per chunk: the timer is
    // armed (and the time read) when the consumer holds a chunk and none is armed. When it fires
    // on a later chunk than the one it was armed for, that chunk was handed out since: it re-arms
    // for a whole period from now. A consumer is cancelled after holding one chunk for at least
    // `stallMs` (at most twice that).
    const clock = host.clock;
    const stallMs = host.streamStallMs;
    let holding = false;
    let handed = 0;
    let armedFor = 0;
    let heldSince = 0;
    let timer: ReturnType<typeof clock.setTimer> | undefined;
    const arm = (ms: number): void => {
      armedFor = handed;
      timer = clock.setTimer(check, ms);
    };
    const check = (): void => {
      timer = undefined;
      if (!holding) return;
      if (armedFor !== handed) {
        heldSince = clock.now();
        arm(stallMs);
        return;
      }
      const left = stallMs - (clock.now() - heldSince);
      if (left > 0) {
        arm(left);
        return;
      }
      stalled = new SnakepitError("deadline_exceeded", `The consumer of stream "${tool}" read nothing for ${stallMs} ms (streamStallTimeoutMs); the stream was cancelled`, {
        details: { tool, worker: ctx.worker, stallMs },
      });
      // Cancel in the worker now (frees its slot) and settle: the consumer may never come back.
      // A slow consumer says nothing about the pool's health: the breaker does not hear of it.
      void stream.chunks.return();
      settleError(ctx, stalled);
    };
    // Chunks already received are taken without a promise each (`take`), a burst in one turn.
    const take = stream.take;
    try {
      for (let next = committed.first; !next.done;) {
        handed++;
        holding = true;
        if (timer === undefined) {
          heldSince = clock.now();
          arm(stallMs);
        }
        try {
          yield next.value;
        } finally {
          holding = false;
        }
        if (stalled) throw stalled;
        const item = take === undefined ? EMPTY : take();
        next = item === EMPTY ? await stream.chunks.next() : { value: item, done: false };
      }
    } finally {
      timer?.clear();
    }
    settleOk(ctx, stream.durationUs / 1000);
  } catch (err) {
    const e = SnakepitError.from(err);
    if (committed && !ctx.settled) host.guard.recordLate(e);
    throw settleError(ctx, e);
  } finally {
    if (!ctx.settled) {
      // The consumer left early (break / return): the worker call is cancelled, the stream counts as aborted.
      void committed?.stream.chunks.return();
      settleError(ctx, new SnakepitError("aborted", `Stream of "${tool}" was closed by the consumer`));
    }
  }
}

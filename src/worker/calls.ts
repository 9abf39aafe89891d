/**
 * The calls of one worker, whatever carries them: slots, deadlines, cancels with a grace, and
 * which calls never started. Calls run in the order sent, `capacity` at a time (Python's FIFO),
 * so when a worker dies only the first `capacity` pending calls can have started: the others
 * fail with `details.notStarted` and the pool runs them elsewhere.
 */

import type { CallSink, RequestOptions } from "../bridge/channel.ts";
import type { ExecuteToolRequest } from "../bridge/messages.ts";
import type { Clock } from "../core/clock.ts";
import { type Deadlines, deadlinesOf } from "../core/deadlines.ts";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { SnakepitError } from "../errors.ts";
import { type CallOptions, NOT_STARTED } from "./link.ts";
import { TrackedCall } from "./tracked-call.ts";

/** What carries the calls: a Channel over a pipe, or an in-memory stand-in. */
export interface Conduit {
  request(method: "ExecuteTool" | "ExecuteStreamingTool", msg: ExecuteToolRequest, sink: CallSink, options: RequestOptions): number;
  cancel(id: number): void;
  credit(id: number, n: number): void;
}

/** What the tracker needs from its worker. */
export interface CallOwner {
  readonly id: string;
  readonly isReady: boolean;
  readonly cancelGraceMs: number;
  /** A slot freed (a call ended). */
  released(): void;
  /** A cancelled call outlived its grace: the worker must go. */
  cancelTimedOut(callId: number): void;
  /** A cancelled call of `tool` runs on (+1) or ended (-1): the pool holds back the tool's calls. */
  zombie?(tool: string, delta: number): void;
  /** Shared record of tools' run times, ms (the tracker keeps its own without one). */
  readonly toolTimes?: Map<string, number> | undefined;
}

/** One started call. */
export interface StartedCall {
  id: number;
  done: Promise<unknown>;
  cancel(reason: SnakepitError): void;
  /** Time from send to end, ms (0 until it ended). */
  readonly elapsedMs: number;
}

/** Tools whose run time a worker remembers (a caller could name endless made-up ones). */
const MAX_TIMED_TOOLS = 256;

export class CallTracker {
  readonly capacity: number;
  inFlight = 0;
  requests = 0;
  zombies = 0;
  /** Moving average of the time a call takes the worker (not its wait in the pipe), ms. */
  serviceMs = 0;
  #lastEnd = Number.NEGATIVE_INFINITY;
  /** Per tool, a moving average of its calls' run time, ms (Infinity after a cancelled call). */
  readonly #toolMs: Map<string, number>;
  /** Calls in flight whose tool is known not to be quick (see `canPrefetch`). */
  #slowInFlight = 0;
  #quickMs = 1;
  readonly #owner: CallOwner;
  readonly #clock: Clock;
  /** Pending calls in the order sent. */
  readonly #pending = new Set<TrackedCall>();
  readonly #deadlines: Deadlines;
  #drainWaiters: Array<() => void> = [];

  get workerId(): string {
    return this.#owner.id;
  }

  /** A free slot, and no cancelled call still running (such a worker gets no new work). */
  get hasCapacity(): boolean {
    return this.inFlight < this.capacity && this.zombies === 0;
  }

  /** Room for a prefetched call: only while calls are short, so none waits long behind another. */
  canPrefetch(depth: number, maxServiceMs: number): boolean {
    this.#quickMs = maxServiceMs;
    // Not behind a call of a tool known to be slow (or to have ignored a cancel): a quick call
    // prefetched there would wait out that call.
    return this.zombies === 0 && this.#slowInFlight === 0 && this.inFlight < this.capacity + depth && this.serviceMs < maxServiceMs;
  }

  constructor(owner: CallOwner, capacity: number, clock: Clock) {
    this.#owner = owner;
    this.#toolMs = owner.toolTimes ?? new Map();
    this.capacity = capacity;
    this.#clock = clock;
    this.#deadlines = deadlinesOf(clock);
  }

  /** The worker is going away: calls behind the first `capacity` never started. */
  markUnstarted(): void {
    let i = 0;
    for (const call of this.#pending) if (i++ >= this.capacity) call.notStarted = true;
  }

  /**
   * Run a call. The caller's promise settles at once on abort or timeout; the slot is freed only
   * when the worker ends the call, or the worker is killed after the cancel grace.
   */
  start(
    conduit: Conduit | undefined,
    method: "ExecuteTool" | "ExecuteStreamingTool",
    tool: string,
    args: Record<string, unknown>,
    options: CallOptions,
    onMessage?: (msg: unknown) => void,
    onMessages?: (data: unknown[]) => void,
  ): StartedCall {
    const owner = this.#owner;
    if (!conduit || !owner.isReady) {
      throw new SnakepitError("worker_unavailable", `Worker "${owner.id}" is not ready`, { details: { worker: owner.id, [NOT_STARTED]: true } });
    }
    const msg: ExecuteToolRequest = { toolName: tool, args };
    if (options.sessionId) msg.sessionId = options.sessionId;
    if (options.metadata) msg.metadata = options.metadata;
    if (options.traceparent) msg.traceparent = options.traceparent;
    if (options.correlationId) msg.correlationId = options.correlationId;
    const call = new TrackedCall(this, conduit, tool, options.signal, onMessage, this.#clock.now(), onMessages);
    call.unary = method === "ExecuteTool";
    const known = this.#toolMs.get(tool);
    if (known !== undefined && !(known < this.#quickMs)) call.slow = true;
    call.id = conduit.request(method, msg, call, { streaming: method === "ExecuteStreamingTool", timeoutMs: options.innerTimeoutMs ?? options.timeoutMs });
    // Counted only once the request is on its way (encoding can throw above).
    this.#pending.add(call);
    this.inFlight++;
    if (call.slow) this.#slowInFlight++;
    this.requests++;
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) call.handleEvent();
      else signal.addEventListener("abort", call, { once: true });
    }
    // Budgets past a timer's range (~24.8 days) mean "no deadline": a timer that long would fire at once.
    const budget = options.timeoutMs;
    if (!call.settled && budget !== undefined && Number.isFinite(budget) && budget <= MAX_TIMER_MS) {
      call.budget = budget;
      call.at = call.sentAt + Math.max(0, budget);
      this.#deadlines.add(call);
    }
    return call;
  }

  /** A call ended on the worker (TrackedCall's end). */
  ended(call: TrackedCall, reply: unknown, err: SnakepitError | undefined): void {
    const now = this.#clock.now();
    const elapsedMs = now - call.sentAt;
    call.elapsedMs = elapsedMs;
    // A prefetched call's send-to-end time includes its wait behind the calls ahead of it: averaging
    // that would switch prefetch off under load (and back on once idle), halving throughput just
    // when it counts. The gap since the previous end (times the slots running at once) is its own run.
    const ran = Math.min(elapsedMs, (now - this.#lastEnd) * this.capacity);
    this.#lastEnd = now;
    this.serviceMs += (ran - this.serviceMs) * 0.2;
    this.#timeTool(call.tool, call.cancelled ? Number.POSITIVE_INFINITY : ran);
    if (call.slow) this.#slowInFlight--;
    this.#pending.delete(call);
    call.grace?.clear();
    if (call.cancelled) {
      this.zombies--;
      this.#owner.zombie?.(call.tool, -1);
    }
    this.inFlight--;
    this.#owner.released();
    if (this.inFlight === 0) for (const done of this.#drainWaiters.splice(0)) done();
    call.settle(err && this.#own(err, call.tool, call.notStarted), reply);
  }

  /** A call was cancelled (abort, deadline, consumer): it runs on as a zombie until its end or its grace. */
  cancelled(call: TrackedCall): void {
    this.#timeTool(call.tool, Number.POSITIVE_INFINITY);
    this.zombies++;
    this.#owner.zombie?.(call.tool, 1);
    call.grace = this.#clock.setTimer(() => this.#owner.cancelTimedOut(call.id), this.#owner.cancelGraceMs);
  }

  /** The call settled for its caller: its deadline no longer matters. */
  unschedule(call: TrackedCall): void {
    this.#deadlines.remove(call);
  }

  /** Resolves once no call is in flight, or after `timeoutMs`. */
  whenDrained(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.#clock.setTimer(resolve, timeoutMs);
      this.#drainWaiters.push(() => {
        timer.clear();
        resolve();
      });
    });
  }

  /** Fold a call's run time into its tool's average (a cancelled call's counts as endless). */
  #timeTool(tool: string, ms: number): void {
    const map = this.#toolMs;
    const prev = map.get(tool);
    if (prev === undefined && map.size >= MAX_TIMED_TOOLS) map.clear(); // callers name tools: bounded
    map.set(tool, prev === undefined || !Number.isFinite(prev) || !Number.isFinite(ms) ? ms : prev + (ms - prev) * 0.2);
  }

  /** A crash ends every call with one shared error: give each caller its own copy. */
  #own(err: SnakepitError, tool: string, notStarted: boolean): SnakepitError {
    const worker = this.#owner.id;
    if (notStarted) {
      return new SnakepitError("worker_unavailable", `Worker "${worker}" went away before the call of "${tool}" started`, {
        cause: err,
        details: { worker, tool, [NOT_STARTED]: true },
      });
    }
    return new SnakepitError(err.code, err.message, {
      cause: err.cause ?? err,
      details: { ...err.details, worker: err.details.worker ?? worker, tool: err.details.tool ?? tool },
      ...(err.python ? { python: err.python } : {}),
    });
  }
}

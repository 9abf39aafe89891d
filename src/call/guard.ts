/**
 * The resilience around each call and stream, in the seed's order: circuit breaker (fail fast
 * while the adapter cannot be started), crash barrier (retry an idempotent call whose worker
 * crashed), retry policy (retry what surely did not run, within a retry budget and never into a
 * saturated pool). All bounded by the call's deadline and signal. A call its worker never started
 * is run again at the front of the queue, whatever its idempotency: that is neither a failure nor
 * a retry. The first attempt costs one `.then`; the retry machinery only runs after a failure.
 */

import { abortError, SnakepitError } from "../errors.ts";
import { type Clock, realClock, sleepOn } from "../core/clock.ts";
import { backoffMs } from "../resilience/backoff.ts";
import { CircuitBreaker, type CircuitBreakerConfig } from "../resilience/circuit-breaker.ts";
import type { CrashBarrierConfig } from "../resilience/crash.ts";
import { breakerVerdict, isOverload } from "../resilience/outcome.ts";
import { RetryBudget } from "../resilience/retry-budget.ts";
import { type RetryPolicy, retryRefusal } from "../resilience/retry.ts";
import type { EventBus } from "../telemetry/bus.ts";
import { NOT_STARTED } from "../worker/link.ts";
import { feedBreaker } from "./breaker-feed.ts";

/** One attempt of a call; `front`: the previous attempt never started, go to the front of the queue. */
export type Attempt<T> = (front: boolean) => Promise<T>;

/** What the guard may ask its pool. */
export interface GuardProbes {
  /** A ready worker exists: an open breaker then blocks nothing. */
  canServe?: () => boolean;
  /** The queue is full and no worker has a free slot: overload errors are not retried. */
  isSaturated?: () => boolean;
}

/** Per-call facts the guard needs. */
export interface GuardOptions {
  idempotent: boolean;
  signal: AbortSignal | undefined;
  /** Deadline of the whole call, on the guard's clock. */
  deadline: number;
  tool: string;
  /** The guard's clock read just now by the caller, if it did (saves a read). */
  now?: number | undefined;
}

export class CallGuard {
  readonly breaker: CircuitBreaker;
  readonly #pool: string;
  readonly #retry: RetryPolicy;
  readonly #crash: CrashBarrierConfig;
  readonly #bus: EventBus;
  readonly #clock: Clock;
  readonly #budget: RetryBudget;
  readonly #isSaturated: () => boolean;
  /** Calls run again because their worker never started them. */
  requeued = 0;

  constructor(
    pool: string,
    config: { retry: RetryPolicy; circuitBreaker: CircuitBreakerConfig; crashBarrier: CrashBarrierConfig },
    bus: EventBus,
    options: GuardProbes & { clock?: Clock } = {},
  ) {
    this.#pool = pool;
    this.#clock = options.clock ?? realClock;
    this.#retry = config.retry;
    this.#crash = config.crashBarrier;
    this.#bus = bus;
    // On the guard's clock: a monotonic read costs a fraction of Date.now() here, once per call.
    this.#budget = new RetryBudget({ ratio: config.retry.budgetRatio, minPerSecond: config.retry.budgetMinPerSecond, now: () => this.#clock.now() });
    this.#isSaturated = options.isSaturated ?? (() => false);
    this.breaker = new CircuitBreaker(pool, config.circuitBreaker, {
      onChange: (from, to) => bus.emit("circuit.state", { pool, from, to }),
      canServe: options.canServe,
      now: () => this.#clock.now(),
    });
    feedBreaker(this.breaker, bus, pool);
  }

  /**
   * Run `attempt` with the breaker, crash barrier and retry policy around it. `ok` and `fail`,
   * when given, settle the outcome in the same reaction (one promise hop less per call).
   */
  run<T>(attempt: Attempt<T>, options: GuardOptions): Promise<T>;
  run<T, R>(attempt: Attempt<T>, options: GuardOptions, ok: (out: T) => R, fail: (err: unknown) => never): Promise<R>;
  run<T, R>(attempt: Attempt<T>, options: GuardOptions, ok?: (out: T) => R, fail?: (err: unknown) => never): Promise<R> {
    this.#budget.recordCall(options.now);
    let probe: boolean;
    try {
      probe = this.breaker.acquire();
    } catch (err) {
      return then(Promise.reject(err), ok, fail);
    }
    let first: Promise<T>;
    try {
      first = attempt(false);
    } catch (err) {
      // Placement can refuse synchronously (strict affinity): recover like any failure.
      return then(this.#recover(SnakepitError.from(err), attempt, options, probe), ok, fail);
    }
    return first.then(
      (out) => {
        if (probe) this.breaker.release();
        return ok ? ok(out) : (out as unknown as R);
      },
      (err: unknown) => then(this.#recover(SnakepitError.from(err), attempt, options, probe), ok, fail),
    );
  }

  /** Count a failure that came after the guard let the call through (a stream failing after its first chunk). */
  recordLate(err: SnakepitError): void {
    this.#record(err, false);
  }

  /** A failed call weighs on the breaker only when it says the adapter cannot be started. */
  #record(err: SnakepitError, probe: boolean): void {
    if (breakerVerdict(err.code) === "failure") this.breaker.failure();
    else if (probe) this.breaker.release();
  }

  /** After a failed attempt: retry while the crash barrier or the retry policy allows. */
  async #recover<T>(first: SnakepitError, attempt: Attempt<T>, options: GuardOptions, firstProbe: boolean): Promise<T> {
    let err = first;
    let probe = firstProbe;
    let crashRetries = 0;
    for (let attempts = 1; ; attempts++) {
      while (err.details[NOT_STARTED] === true && !options.signal?.aborted && this.#clock.now() < options.deadline) {
        this.requeued++;
        this.#bus.emit("call.requeued", { pool: this.#pool, tool: options.tool, worker: String(err.details.worker ?? "") });
        try {
          const out = await attempt(true);
          if (probe) this.breaker.release();
          return out;
        } catch (next) {
          err = SnakepitError.from(next);
        }
      }
      // A call that never started and cannot wait any longer: its own deadline or abort ended it.
      if (err.details[NOT_STARTED] === true) err = notStartedEnd(err, options);
      this.#record(err, probe);
      probe = false;
      const crash = err.code === "worker_crashed" && options.idempotent && this.#crash.enabled && crashRetries < this.#crash.maxRetries;
      const policy = !crash && retryRefusal(err, this.#retry, { attempt: attempts }) === undefined;
      if (attempts > 1) err.details.attempts = attempts;
      if (!crash && !policy) throw err;
      const wait = crash
        ? backoffMs(crashRetries + 1, { sequenceMs: this.#crash.backoffMs })
        : backoffMs(attempts, { sequenceMs: this.#retry.backoffMs, jitter: this.#retry.jitter, maxMs: this.#retry.maxBackoffMs });
      if (options.signal?.aborted || this.#clock.now() + wait >= options.deadline) throw err;
      if (crash) {
        crashRetries++;
        err.details.retriedAfterCrash = crashRetries;
      }
      this.#bus.emit("call.retry", { pool: this.#pool, tool: options.tool, code: err.code, attempt: attempts, delayMs: wait, reason: crash ? "crash" : "policy" });
      await sleepOn(this.#clock, wait, options.signal);
      // Never add load to an overloaded pool: still saturated -> wait again without an attempt;
      // the retry budget spent -> final.
      if (policy && isOverload(err.code) && this.#isSaturated()) continue;
      if (policy && !this.#budget.tryRetry()) throw err;
      probe = this.breaker.acquire(); // open with no ready worker: fail with circuit_open, do not retry into it
      try {
        const out = await attempt(false);
        if (probe) this.breaker.release();
        return out;
      } catch (next) {
        err = SnakepitError.from(next);
      }
    }
  }
}

function then<T, R>(p: Promise<T>, ok: ((out: T) => R) | undefined, fail: ((err: unknown) => never) | undefined): Promise<R> {
  return ok ? p.then(ok, fail) : (p as unknown as Promise<R>);
}

/** The error of a never-started call that ran out of time (or was aborted) before it could run again. */
function notStartedEnd(err: SnakepitError, options: GuardOptions): SnakepitError {
  if (options.signal?.aborted) return abortError(options.signal);
  return new SnakepitError("deadline_exceeded", `Tool "${options.tool}" never started: its worker went away and its deadline passed before another was free`, {
    cause: err,
    details: { tool: options.tool, worker: err.details.worker },
  });
}

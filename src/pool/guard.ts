/**
 * The resilience around each execute call, in the seed's order: circuit breaker (fail fast while
 * the pool keeps failing), crash barrier (retry an idempotent call whose worker crashed), retry
 * policy (retry what surely did not run). All bounded by the call's deadline and signal. The
 * first attempt costs one `.then`; the retry machinery only runs after a failure.
 */

import { SnakepitError } from "../errors.ts";
import { backoffMs, sleep } from "../resilience/backoff.ts";
import { CircuitBreaker, type CircuitBreakerConfig } from "../resilience/circuit-breaker.ts";
import type { CrashBarrierConfig } from "../resilience/crash.ts";
import { breakerVerdict, isOverload } from "../resilience/outcome.ts";
import { RetryBudget } from "../resilience/retry-budget.ts";
import { type RetryPolicy, retryRefusal } from "../resilience/retry.ts";
import type { EventBus } from "../telemetry/bus.ts";
import { feedBreaker } from "./breaker-feed.ts";

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
  /** `performance.now()` deadline of the whole call. */
  deadline: number;
  tool: string;
}

export class CallGuard {
  readonly breaker: CircuitBreaker;
  readonly #pool: string;
  readonly #retry: RetryPolicy;
  readonly #crash: CrashBarrierConfig;
  readonly #bus: EventBus;
  readonly #budget: RetryBudget;
  readonly #isSaturated: () => boolean;

  constructor(pool: string, config: { retry: RetryPolicy; circuitBreaker: CircuitBreakerConfig; crashBarrier: CrashBarrierConfig }, bus: EventBus, probes: GuardProbes = {}) {
    this.#pool = pool;
    this.#retry = config.retry;
    this.#crash = config.crashBarrier;
    this.#bus = bus;
    this.#budget = new RetryBudget({ ratio: config.retry.budgetRatio, minPerSecond: config.retry.budgetMinPerSecond });
    this.#isSaturated = probes.isSaturated ?? (() => false);
    this.breaker = new CircuitBreaker(pool, config.circuitBreaker, {
      onChange: (from, to) => bus.emit("circuit.state", { pool, from, to }),
      canServe: probes.canServe,
    });
    feedBreaker(this.breaker, bus, pool);
  }

  /** Run `attempt` with the breaker, crash barrier and retry policy around it. */
  run<T>(attempt: () => Promise<T>, options: GuardOptions): Promise<T> {
    this.#budget.recordCall();
    let probe: boolean;
    try {
      probe = this.breaker.acquire();
    } catch (err) {
      return Promise.reject(err);
    }
    let first: Promise<T>;
    try {
      first = attempt();
    } catch (err) {
      // Placement can refuse synchronously (strict affinity): recover like any failure.
      return this.#recover(SnakepitError.from(err), attempt, options, probe);
    }
    return first.then(
      (out) => {
        if (probe) this.breaker.release();
        return out;
      },
      (err: unknown) => this.#recover(SnakepitError.from(err), attempt, options, probe),
    );
  }

  /** A failed call weighs on the breaker only when it says the adapter cannot be started. */
  #record(err: SnakepitError, probe: boolean): void {
    if (breakerVerdict(err.code) === "failure") this.breaker.failure();
    else if (probe) this.breaker.release();
  }

  /** After a failed attempt: retry while the crash barrier or the retry policy allows. */
  async #recover<T>(first: SnakepitError, attempt: () => Promise<T>, options: GuardOptions, firstProbe: boolean): Promise<T> {
    let err = first;
    let probe = firstProbe;
    let crashRetries = 0;
    for (let attempts = 1; ; attempts++) {
      this.#record(err, probe);
      probe = false;
      const crash = err.code === "worker_crashed" && options.idempotent && this.#crash.enabled && crashRetries < this.#crash.maxRetries;
      const policy = !crash && retryRefusal(err, this.#retry, { attempt: attempts }) === undefined;
      if (attempts > 1) err.details.attempts = attempts;
      if (!crash && !policy) throw err;
      const wait = crash
        ? backoffMs(crashRetries + 1, { sequenceMs: this.#crash.backoffMs })
        : backoffMs(attempts, { sequenceMs: this.#retry.backoffMs, jitter: this.#retry.jitter, maxMs: this.#retry.maxBackoffMs });
      if (options.signal?.aborted || performance.now() + wait >= options.deadline) throw err;
      if (crash) {
        crashRetries++;
        err.details.retriedAfterCrash = crashRetries;
      }
      this.#bus.emit("call.retry", { pool: this.#pool, tool: options.tool, code: err.code, attempt: attempts, delayMs: wait, reason: crash ? "crash" : "policy" });
      await sleep(wait, options.signal);
      // Never add load to an overloaded pool: still saturated -> wait again without an attempt;
      // the retry budget spent -> final.
      if (policy && isOverload(err.code) && this.#isSaturated()) continue;
      if (policy && !this.#budget.tryRetry()) throw err;
      probe = this.breaker.acquire(); // open with no ready worker: fail with circuit_open, do not retry into it
      try {
        const out = await attempt();
        if (probe) this.breaker.release();
        return out;
      } catch (next) {
        err = SnakepitError.from(next);
      }
    }
  }
}

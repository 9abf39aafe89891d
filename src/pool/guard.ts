/**
 * The resilience around each execute call, in the seed's order: circuit breaker (fail fast while
 * the pool keeps failing), crash barrier (retry an idempotent call whose worker crashed), retry
 * policy (retry what surely did not run). All bounded by the call's deadline and signal. The
 * first attempt costs one `.then`; the retry machinery only runs after a failure.
 */

import { SnakepitError, type SnakepitErrorCode } from "../errors.ts";
import { backoffMs, sleep } from "../resilience/backoff.ts";
import { CircuitBreaker, type CircuitBreakerConfig } from "../resilience/circuit-breaker.ts";
import type { CrashBarrierConfig } from "../resilience/crash.ts";
import type { RetryPolicy } from "../resilience/retry.ts";
import type { EventBus } from "../telemetry/bus.ts";

/** Failures that say the pool is in trouble (not the caller's input, not the tool's own error). */
const BREAKER_COUNTS = new Set<SnakepitErrorCode>(["worker_crashed", "deadline_exceeded", "queue_timeout", "worker_unavailable", "worker_spawn_failed"]);
/** Outcomes that say nothing about the pool's health: they neither open nor close the breaker. */
const BREAKER_NEUTRAL = new Set<SnakepitErrorCode>(["circuit_open", "aborted", "session_worker_lost", "worker_busy", "pool_closed", "pool_saturated"]);

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

  constructor(pool: string, config: { retry: RetryPolicy; circuitBreaker: CircuitBreakerConfig; crashBarrier: CrashBarrierConfig }, bus: EventBus) {
    this.#pool = pool;
    this.#retry = config.retry;
    this.#crash = config.crashBarrier;
    this.#bus = bus;
    this.breaker = new CircuitBreaker(pool, config.circuitBreaker, {
      onChange: (from, to) => bus.emit("circuit.state", { pool, from, to }),
    });
  }

  /** Run `attempt` with the breaker, crash barrier and retry policy around it. */
  run<T>(attempt: () => Promise<T>, options: GuardOptions): Promise<T> {
    try {
      this.breaker.acquire();
    } catch (err) {
      return Promise.reject(err);
    }
    let first: Promise<T>;
    try {
      first = attempt();
    } catch (err) {
      // Placement can refuse synchronously (strict affinity): recover like any failure.
      return this.#recover(SnakepitError.from(err), attempt, options);
    }
    return first.then(
      (out) => {
        this.breaker.success();
        return out;
      },
      (err: unknown) => this.#recover(SnakepitError.from(err), attempt, options),
    );
  }

  #record(err: SnakepitError): void {
    if (BREAKER_COUNTS.has(err.code)) this.breaker.failure(err.code === "worker_crashed" ? `crash:${String(err.details.worker)}` : undefined);
    else if (BREAKER_NEUTRAL.has(err.code)) this.breaker.release();
    else this.breaker.success();
  }

  /** After a failed attempt: retry while the crash barrier or the retry policy allows. */
  async #recover<T>(first: SnakepitError, attempt: () => Promise<T>, options: GuardOptions): Promise<T> {
    let err = first;
    let crashRetries = 0;
    for (let attempts = 1; ; attempts++) {
      this.#record(err);
      const crash = err.code === "worker_crashed" && options.idempotent && this.#crash.enabled && crashRetries < this.#crash.maxRetries;
      const policy = this.#retry.enabled && this.#retry.retriable.includes(err.code) && attempts < this.#retry.maxAttempts;
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
      this.breaker.acquire(); // open now: fail with circuit_open, do not retry into it
      try {
        const out = await attempt();
        this.breaker.success();
        return out;
      } catch (next) {
        err = SnakepitError.from(next);
      }
    }
  }
}

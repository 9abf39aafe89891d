/**
 * The resilience around each execute call, in the seed's order: circuit breaker (fail fast while
 * the pool keeps failing), crash barrier (retry an idempotent call whose worker crashed), retry
 * policy (retry what surely did not run). All bounded by the call's deadline and signal.
 */

import type { SnakepitError, SnakepitErrorCode } from "../errors.ts";
import { backoffMs, sleep } from "../resilience/backoff.ts";
import { CircuitBreaker, type CircuitBreakerConfig } from "../resilience/circuit-breaker.ts";
import type { CrashBarrierConfig } from "../resilience/crash.ts";
import { type RetryPolicy, withRetry } from "../resilience/retry.ts";
import type { EventBus } from "../telemetry/bus.ts";
import { SnakepitError as SPError } from "../errors.ts";

/** Failures that say the pool is in trouble (not the caller's input, not the tool's own error). */
const BREAKER_COUNTS = new Set<SnakepitErrorCode>(["worker_crashed", "deadline_exceeded", "queue_timeout", "worker_unavailable", "worker_spawn_failed"]);

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
    return withRetry(() => this.#withBarrier(attempt, options), this.#retry, {
      signal: options.signal,
      deadline: options.deadline,
      onRetry: (err, n, delayMs) => this.#bus.emit("call.retry", { pool: this.#pool, tool: options.tool, code: err.code, attempt: n, delayMs, reason: "policy" }),
    });
  }

  async #withBarrier<T>(attempt: () => Promise<T>, options: GuardOptions): Promise<T> {
    for (let retries = 0; ; retries++) {
      this.breaker.acquire();
      try {
        const out = await attempt();
        this.breaker.success();
        return out;
      } catch (reason) {
        const err = SPError.from(reason) as SnakepitError;
        if (!BREAKER_COUNTS.has(err.code)) this.breaker.success();
        else this.breaker.failure(err.code === "worker_crashed" ? `crash:${String(err.details.worker)}` : undefined);
        const retry = err.code === "worker_crashed" && options.idempotent && this.#crash.enabled && retries < this.#crash.maxRetries;
        const wait = backoffMs(retries + 1, { sequenceMs: this.#crash.backoffMs });
        if (!retry || options.signal?.aborted || performance.now() + wait >= options.deadline) throw err;
        err.details.retriedAfterCrash = retries + 1;
        this.#bus.emit("call.retry", { pool: this.#pool, tool: options.tool, code: err.code, attempt: retries + 1, delayMs: wait, reason: "crash" });
        await sleep(wait, options.signal);
      }
    }
  }
}

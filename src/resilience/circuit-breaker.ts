/**
 * A circuit breaker: after `failureThreshold` failures in a row it opens and calls fail at once
 * with `circuit_open`; after `resetTimeoutMs` it lets `halfOpenMaxCalls` probes through; a probe
 * that succeeds closes it, one that fails opens it again. The clock is injectable.
 */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { SnakepitError } from "../errors.ts";

export const CircuitBreakerSchema = z.object({
  enabled: z.boolean().default(true).describe("Fail fast while the pool keeps failing"),
  failureThreshold: z.number().int().min(1).default(5).describe("Failures in a row that open the circuit"),
  resetTimeoutMs: z.number().int().positive().max(MAX_TIMER_MS).default(30_000).describe("Time open before a probe call is let through"),
  halfOpenMaxCalls: z.number().int().min(1).default(1).describe("Probe calls let through while half-open"),
}).strict();
export type CircuitBreakerConfig = z.output<typeof CircuitBreakerSchema>;

/** The breaker's states. */
export type CircuitState = "closed" | "open" | "half_open";

export class CircuitBreaker {
  readonly name: string;
  readonly config: CircuitBreakerConfig;
  #state: CircuitState = "closed";
  #failures = 0;
  #openedAt = 0;
  #probes = 0;
  /** Incidents already counted in the current failure streak (one crash failing many calls is one). */
  readonly #incidents = new Set<string>();
  readonly #now: () => number;
  readonly #onChange: (from: CircuitState, to: CircuitState) => void;

  constructor(name: string, config: CircuitBreakerConfig, options: { now?: () => number; onChange?: (from: CircuitState, to: CircuitState) => void } = {}) {
    this.name = name;
    this.config = config;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange ?? (() => {});
  }

  /** The state as of now. Reading it changes nothing: an open circuit past its reset time reads half_open, and becomes it at the next `acquire()`. */
  get state(): CircuitState {
    return this.#state === "open" && this.#now() - this.#openedAt >= this.config.resetTimeoutMs ? "half_open" : this.#state;
  }

  get failures(): number {
    return this.#failures;
  }

  #move(to: CircuitState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    if (to === "open") this.#openedAt = this.#now();
    if (to !== "closed") this.#probes = 0;
    if (to === "closed") this.#failures = 0;
    this.#onChange(from, to);
  }

  /** Take a slot for a call, or throw `circuit_open`. Pair with `success()` or `failure()`. */
  acquire(): void {
    if (!this.config.enabled) return;
    const state = this.state;
    if (state !== this.#state) this.#move(state);
    if (state === "closed") return;
    if (state === "half_open" && this.#probes < this.config.halfOpenMaxCalls) {
      this.#probes++;
      return;
    }
    const retryInMs = Math.max(0, this.config.resetTimeoutMs - (this.#now() - this.#openedAt));
    throw new SnakepitError("circuit_open", `Circuit "${this.name}" is open after ${this.#failures} failures in a row; next probe in ${retryInMs} ms`, {
      details: { circuit: this.name, failures: this.#failures, retryInMs },
    });
  }

  /** Give back a probe slot taken by `acquire()` for a call that proved nothing either way. */
  release(): void {
    if (this.#state === "half_open" && this.#probes > 0) this.#probes--;
  }

  /** Throw `circuit_open` while open, without taking a probe slot (streams). */
  assertNotOpen(): void {
    if (this.config.enabled && this.state === "open") this.acquire();
  }

  success(): void {
    if (!this.config.enabled) return;
    this.#failures = 0;
    this.#incidents.clear();
    if (this.#state !== "closed") this.#move("closed");
  }

  /** Count a failure; failures sharing an `incident` key (e.g. one worker's crash) count once. */
  failure(incident?: string): void {
    if (!this.config.enabled) return;
    if (incident !== undefined) {
      if (this.#incidents.has(incident)) return;
      this.#incidents.add(incident);
    }
    this.#failures++;
    if (this.#state === "half_open" || (this.#state === "closed" && this.#failures >= this.config.failureThreshold)) this.#move("open");
  }

  /** Run `fn` through the breaker. */
  async call<T>(fn: () => Promise<T>, counts: (err: SnakepitError) => boolean = () => true): Promise<T> {
    this.acquire();
    try {
      const out = await fn();
      this.success();
      return out;
    } catch (reason) {
      const err = SnakepitError.from(reason);
      if (counts(err)) this.failure();
      else this.success();
      throw err;
    }
  }

  reset(): void {
    this.#move("closed");
  }
}

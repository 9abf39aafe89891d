/**
 * A circuit breaker that protects the pool from a broken adapter, not from its clients.
 *
 * It counts what says the adapter cannot be run (replacement workers that fail to start, crash
 * storms past the restart budget), never what a client chose or caused (deadlines, cancels, bad
 * arguments, Python exceptions: see `outcome.ts`). After `failureThreshold` such failures in a
 * row it opens; a worker that starts closes it again. While open, calls fail at once with
 * `circuit_open` only when the pool has no ready worker to run them (`canServe`); after
 * `resetTimeoutMs` it lets `halfOpenMaxCalls` probes through.
 *
 * Reading `state` or `failures` never changes anything: the open → half-open step is derived from
 * the injected clock, and recorded (with its `onChange`) by the next command.
 */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { SnakepitError } from "../errors.ts";

export const CircuitBreakerSchema = z.object({
  enabled: z.boolean().default(true).describe("Fail fast while the adapter cannot be started and no worker is ready"),
  failureThreshold: z.number().int().min(1).default(5).describe("Failed worker starts (or crash storms) in a row that open the circuit"),
  resetTimeoutMs: z.number().int().positive().max(MAX_TIMER_MS).default(30_000).describe("Time open before a probe call is let through"),
  halfOpenMaxCalls: z.number().int().min(1).default(1).describe("Probe calls let through while half-open"),
}).strict();
export type CircuitBreakerConfig = z.output<typeof CircuitBreakerSchema>;

/** The breaker's states. */
export type CircuitState = "closed" | "open" | "half_open";

/** Options of a breaker. */
export interface CircuitBreakerOptions {
  /** The clock, in ms. @default Date.now */
  now?: (() => number) | undefined;
  onChange?: ((from: CircuitState, to: CircuitState) => void) | undefined;
  /** True while the pool has a ready worker: then an open breaker blocks nothing. @default () => false */
  canServe?: (() => boolean) | undefined;
}

export class CircuitBreaker {
  readonly name: string;
  readonly config: CircuitBreakerConfig;
  #state: CircuitState = "closed";
  #failures = 0;
  #openedAt = 0;
  #probes = 0;
  /** Incidents already counted in the current failure streak (one event failing many calls is one). */
  readonly #incidents = new Set<string>();
  readonly #now: () => number;
  readonly #onChange: (from: CircuitState, to: CircuitState) => void;
  readonly #canServe: () => boolean;

  constructor(name: string, config: CircuitBreakerConfig, options: CircuitBreakerOptions = {}) {
    this.name = name;
    this.config = config;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange ?? (() => {});
    this.#canServe = options.canServe ?? (() => false);
  }

  /** The state now. A pure read: an open breaker past its reset time reads `half_open`. */
  get state(): CircuitState {
    return this.#state === "open" && this.#resetDue() ? "half_open" : this.#state;
  }

  /** Failures counted in the current streak. */
  get failures(): number {
    return this.#failures;
  }

  #resetDue(): boolean {
    return this.#now() - this.#openedAt >= this.config.resetTimeoutMs;
  }

  /** Record the derived open → half-open step (commands only). */
  #settle(): void {
    if (this.#state === "open" && this.#resetDue()) this.#move("half_open");
  }

  #move(to: CircuitState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    if (to === "open") this.#openedAt = this.#now();
    if (to !== "closed") this.#probes = 0;
    if (to === "closed") {
      this.#failures = 0;
      this.#incidents.clear();
    }
    this.#onChange(from, to);
  }

  /**
   * Admit a call, or throw `circuit_open`. Returns true when the call took a half-open probe slot
   * (give it back with `release()` if it proves nothing). A pool with a ready worker is always
   * admitted: the breaker never blocks calls that can run.
   */
  acquire(): boolean {
    if (!this.config.enabled) return false;
    this.#settle();
    if (this.#state === "closed") return false;
    if (this.#state === "half_open" && this.#probes < this.config.halfOpenMaxCalls) {
      this.#probes++;
      return true;
    }
    if (this.#canServe()) return false;
    const retryInMs = this.#state === "open" ? Math.max(0, this.config.resetTimeoutMs - (this.#now() - this.#openedAt)) : 0;
    throw new SnakepitError(
      "circuit_open",
      `Circuit "${this.name}" is open: ${this.#failures} failed worker starts or crash storms in a row and no worker is ready; next probe in ${retryInMs} ms`,
      { details: { circuit: this.name, failures: this.#failures, retryInMs } },
    );
  }

  /** Give back a probe slot taken by `acquire()` for a call that proved nothing either way. */
  release(): void {
    if (this.#state === "half_open" && this.#probes > 0) this.#probes--;
  }

  /** Throw `circuit_open` when a call would be refused, without taking a probe slot (streams). */
  assertNotOpen(): void {
    if (!this.config.enabled) return;
    this.#settle();
    if (this.#state === "open" && !this.#canServe()) this.acquire();
  }

  /** The adapter proved it runs (a worker started, a probe succeeded): close. */
  success(): void {
    if (!this.config.enabled) return;
    this.#failures = 0;
    this.#incidents.clear();
    if (this.#state !== "closed") this.#move("closed");
  }

  /** Count a failure; failures sharing an `incident` key count once per streak. */
  failure(incident?: string): void {
    if (!this.config.enabled) return;
    this.#settle();
    if (incident !== undefined) {
      if (this.#incidents.has(incident)) return;
      this.#incidents.add(incident);
    }
    this.#failures++;
    if (this.#state === "half_open" || (this.#state === "closed" && this.#failures >= this.config.failureThreshold)) this.#move("open");
  }

  /** Run `fn` through the breaker; `counts` says which errors are the adapter's fault. */
  async call<T>(fn: () => Promise<T>, counts: (err: SnakepitError) => boolean = () => true): Promise<T> {
    const probe = this.acquire();
    try {
      const out = await fn();
      this.success();
      return out;
    } catch (reason) {
      const err = SnakepitError.from(reason);
      if (counts(err)) this.failure();
      else if (probe) this.release();
      throw err;
    }
  }

  reset(): void {
    this.#move("closed");
  }
}

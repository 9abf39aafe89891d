/** Pool counters and a latency reservoir for p50/p99. */

/** A pool's figures at one moment. */
export interface PoolStatsSnapshot {
  pool: string;
  workers: number;
  ready: number;
  busy: number;
  inFlight: number;
  queued: number;
  /** Calls run again at the front of the queue because their worker never started them. */
  requeued: number;
  requests: number;
  completed: number;
  failed: number;
  queueTimeouts: number;
  saturated: number;
  crashes: number;
  restarts: number;
  recycles: number;
  latencyMs: { p50: number; p99: number };
  /** The pid of the template the workers are forked from, while it runs: a process of the run too. */
  templatePid?: number;
}

const RESERVOIR = 1_024;

export class PoolStats {
  requests = 0;
  completed = 0;
  failed = 0;
  queueTimeouts = 0;
  saturated = 0;
  crashes = 0;
  restarts = 0;
  recycles = 0;
  readonly #latencies = new Float64Array(RESERVOIR);
  #filled = 0;
  #next = 0;

  /** Record a successful call's total latency. */
  record(ms: number): void {
    this.completed++;
    this.#latencies[this.#next] = ms;
    this.#next = (this.#next + 1) % RESERVOIR;
    if (this.#filled < RESERVOIR) this.#filled++;
  }

  #quantile(q: number): number {
    if (this.#filled === 0) return 0;
    const sorted = this.#latencies.slice(0, this.#filled).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }

  snapshot(load: Pick<PoolStatsSnapshot, "pool" | "workers" | "ready" | "busy" | "inFlight" | "queued" | "requeued" | "templatePid">): PoolStatsSnapshot {
    return {
      ...load,
      requests: this.requests,
      completed: this.completed,
      failed: this.failed,
      queueTimeouts: this.queueTimeouts,
      saturated: this.saturated,
      crashes: this.crashes,
      restarts: this.restarts,
      recycles: this.recycles,
      latencyMs: { p50: this.#quantile(0.5), p99: this.#quantile(0.99) },
    };
  }
}

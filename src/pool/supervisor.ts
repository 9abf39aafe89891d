/**
 * Keeping a pool whole: crash accounting (health, device taints), replacement with backoff
 * under a restart budget (a crash storm pauses instead of spinning), a periodic reconcile back to
 * the pool size, and recycling on age, request count and the Python process's memory.
 */

import type { PoolConfig } from "../config/schema.ts";
import { backoffMs, sleep } from "../resilience/backoff.ts";
import type { HealthMonitor } from "../resilience/health.ts";
import { rssBytes } from "../runtime/procfs.ts";
import type { EventBus } from "../telemetry/bus.ts";
import type { WorkerLink as Worker } from "../worker/link.ts";
import { recycleReason } from "../resilience/lifecycle.ts";
import { RestartBudget } from "./restart-budget.ts";
import type { PoolStats } from "./stats.ts";

const RESTART_BACKOFF_MS = [100, 200, 400, 800, 1_600, 3_200, 5_000];

/** What the supervisor needs from its pool. */
export interface Supervised {
  readonly name: string;
  readonly config: PoolConfig;
  readonly workers: readonly Worker[];
  readonly stats: PoolStats;
  readonly health: HealthMonitor;
  readonly bus: EventBus;
  readonly stopSignal: AbortSignal;
  readonly isClosed: boolean;
  spawn(): Promise<Worker>;
  recycle(workerId: string): Promise<string>;
}

export class Supervisor {
  /** Device -> time (ms since epoch) until which new workers avoid it. */
  readonly taints = new Map<string, number>();
  readonly #pool: Supervised;
  readonly #budget: RestartBudget;
  readonly #timers: Array<ReturnType<typeof setInterval>> = [];
  #replacing = 0;
  #recycling = 0;
  #wasHealthy = true;

  constructor(pool: Supervised) {
    this.#pool = pool;
    this.#budget = new RestartBudget(pool.config.maxRestarts, pool.config.restartWindowMs);
  }

  /** Start the periodic reconcile and lifecycle checks. */
  start(): void {
    this.#every(this.#pool.config.reconcileIntervalMs, () => this.#reconcile());
    this.#every(this.#pool.config.lifecycle.checkIntervalMs, () => this.#checkLifecycle());
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
  }

  #every(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    (timer as { unref?: () => void }).unref?.();
    this.#timers.push(timer);
  }

  /**
   * A worker died unasked: count it, taint its device, and start a replacement (unless one is).
   * A worker that died running a call is replaced at once, outside the restart budget: it had
   * started and served, so the crash says something about that call's tool, whose caller got the
   * error. Charging the budget let one client calling a crashing tool ten times pause the pool
   * (no worker at all for ~10 s) for every other client.
   */
  crashed(worker: Worker, replace: boolean, duringCall = false): void {
    const pool = this.#pool;
    pool.stats.crashes++;
    pool.health.record();
    this.reportHealth();
    const barrier = pool.config.crashBarrier;
    if (worker.device && barrier.enabled && barrier.taintMs > 0) {
      const until = Date.now() + barrier.taintMs;
      this.taints.set(worker.device, until);
      pool.bus.emit("device.tainted", { pool: pool.name, device: worker.device, untilMs: until });
    }
    if (replace) void this.replace(duringCall);
  }

  /** Emit `pool.health` when the pool turns healthy or unhealthy. */
  reportHealth(): void {
    const { health, bus, name } = this.#pool;
    const healthy = health.isHealthy;
    if (healthy === this.#wasHealthy) return;
    this.#wasHealthy = healthy;
    bus.emit("pool.health", { pool: name, healthy, recentCrashes: health.recentCrashes });
  }

  /** Start a replacement, retrying with backoff while the pool is open; `free`: its first try skips the budget. */
  async replace(free = false): Promise<void> {
    this.#replacing++;
    try {
      await this.#replaceLoop(free);
    } finally {
      this.#replacing--;
    }
  }

  async #replaceLoop(free: boolean): Promise<void> {
    const pool = this.#pool;
    for (let attempt = 0; !pool.isClosed; attempt++) {
      const pauseMs = free && attempt === 0 ? 0 : this.#budget.take(Date.now());
      if (pauseMs > 0) {
        const restarts = this.#budget.used(Date.now());
        pool.bus.emit("pool.restart_storm", { pool: pool.name, restarts, windowMs: pool.config.restartWindowMs, pauseMs });
        if (!(await this.#wait(pauseMs))) return;
        continue;
      }
      try {
        await pool.spawn();
        pool.stats.restarts++;
        return;
      } catch (err) {
        if (pool.isClosed) return;
        pool.bus.emit("worker.restart_failed", { pool: pool.name, worker: "", error: (err as Error).message, attempt });
        if (!(await this.#wait(backoffMs(attempt + 1, { sequenceMs: RESTART_BACKOFF_MS })))) return;
      }
    }
  }

  /** Sleep unless the pool stops first; false when it stopped. */
  async #wait(ms: number): Promise<boolean> {
    try {
      await sleep(ms, this.#pool.stopSignal);
      return true;
    } catch {
      return false;
    }
  }

  /** Restore missing workers (a safety net under the replacement loop). */
  #reconcile(): void {
    const pool = this.#pool;
    if (pool.isClosed) return;
    const missing = pool.config.poolSize - pool.workers.filter((w) => w.state !== "draining").length - this.#replacing;
    for (let i = 0; i < missing; i++) void this.replace();
    this.reportHealth();
  }

  /** Recycle workers past their age or memory limit, one at a time. */
  #checkLifecycle(): void {
    const pool = this.#pool;
    if (pool.isClosed || this.#recycling > 0) return;
    const now = Date.now();
    for (const w of pool.workers) {
      if (w.state !== "ready") continue;
      const reason = recycleReason(w, rssBytes(w.pid) ?? w.health().lastBeat?.rssBytes, pool.config.lifecycle, now);
      if (reason) {
        void this.recycleFor(w, reason);
        return;
      }
    }
  }

  /** Replace a worker on purpose (it drains first, so no call fails). */
  async recycleFor(worker: Worker, reason: string): Promise<void> {
    this.#recycling++;
    try {
      const replacedBy = await this.#pool.recycle(worker.id);
      this.#pool.bus.emit("worker.recycled", { pool: this.#pool.name, worker: worker.id, reason, replacedBy });
    } catch {
      // The worker went away meanwhile, or the pool closed: nothing to recycle.
    } finally {
      this.#recycling--;
    }
  }
}

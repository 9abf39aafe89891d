/**
 * Crashes in a rolling window. More than `maxCrashes` within `crashWindowMs` makes the pool
 * unhealthy, but only while it is not whole again: crashes whose workers were replaced say the
 * adapter runs, so a pool back at full strength is healthy at once after a storm of kills.
 * Reads are pure: expired crashes are dropped when the next one is recorded.
 */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";

export const HealthSchema = z.object({
  crashWindowMs: z.number().int().positive().max(MAX_TIMER_MS).default(60_000).describe("Rolling window for counting crashes"),
  maxCrashes: z.number().int().min(1).default(10).describe("Crashes in the window that make the pool unhealthy while it is not whole"),
}).strict();
export type HealthConfig = z.output<typeof HealthSchema>;

/** Options of a health monitor. */
export interface HealthMonitorOptions {
  /** @default Date.now */
  now?: (() => number) | undefined;
  /** True when every worker of the pool is ready: crashes then no longer make it unhealthy. @default () => false */
  isWhole?: (() => boolean) | undefined;
}

export class HealthMonitor {
  readonly config: HealthConfig;
  readonly #crashes: number[] = [];
  readonly #now: () => number;
  readonly #isWhole: () => boolean;

  constructor(config: HealthConfig, options: HealthMonitorOptions = {}) {
    this.config = config;
    this.#now = options.now ?? Date.now;
    this.#isWhole = options.isWhole ?? (() => false);
  }

  record(): void {
    const now = this.#now();
    this.#crashes.push(now);
    const since = now - this.config.crashWindowMs;
    while (this.#crashes.length && this.#crashes[0]! < since) this.#crashes.shift();
  }

  /** Crashes within the window. */
  get recentCrashes(): number {
    const since = this.#now() - this.config.crashWindowMs;
    let n = 0;
    for (let i = this.#crashes.length - 1; i >= 0 && this.#crashes[i]! >= since; i--) n++;
    return n;
  }

  get isHealthy(): boolean {
    return this.recentCrashes < this.config.maxCrashes || this.#isWhole();
  }
}

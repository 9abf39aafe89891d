/** Crashes in a rolling window: more than `maxCrashes` within `windowMs` is unhealthy. */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";

export const HealthSchema = z.object({
  crashWindowMs: z.number().int().positive().max(MAX_TIMER_MS).default(60_000).describe("Rolling window for counting crashes"),
  maxCrashes: z.number().int().min(1).default(10).describe("Crashes in the window that make the pool unhealthy"),
}).strict();
export type HealthConfig = z.output<typeof HealthSchema>;

export class HealthMonitor {
  readonly config: HealthConfig;
  readonly #crashes: number[] = [];
  readonly #now: () => number;

  constructor(config: HealthConfig, now: () => number = Date.now) {
    this.config = config;
    this.#now = now;
  }

  record(): void {
    this.#crashes.push(this.#now());
    this.#trim();
  }

  #trim(): void {
    const since = this.#now() - this.config.crashWindowMs;
    while (this.#crashes.length && this.#crashes[0]! < since) this.#crashes.shift();
  }

  /** Crashes within the window. */
  get recentCrashes(): number {
    this.#trim();
    return this.#crashes.length;
  }

  get isHealthy(): boolean {
    return this.recentCrashes < this.config.maxCrashes;
  }
}

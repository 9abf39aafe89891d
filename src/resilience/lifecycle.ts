/** Worker recycling rules: on age, on request count, on the Python process's resident memory. */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";

export const LifecycleSchema = z.object({
  workerTtlMs: z.number().int().positive().max(MAX_TIMER_MS).optional().describe("Recycle a worker this old (default: never)"),
  workerMaxRequests: z.number().int().positive().max(MAX_TIMER_MS).optional().describe("Recycle a worker after this many calls (default: never)"),
  memoryThresholdMb: z.number().positive().optional().describe("Recycle a worker whose Python process RSS passes this (default: never)"),
  checkIntervalMs: z.number().int().positive().max(MAX_TIMER_MS).default(60_000).describe("How often age and memory are checked"),
}).strict();
export type LifecycleConfig = z.output<typeof LifecycleSchema>;

/** Why a worker should be recycled now, or undefined. */
export function recycleReason(
  worker: { startedAt: number; requests: number },
  rssBytes: number | undefined,
  config: LifecycleConfig,
  now: number,
): "ttl" | "max_requests" | "memory" | undefined {
  if (config.workerMaxRequests !== undefined && worker.requests >= config.workerMaxRequests) return "max_requests";
  if (config.memoryThresholdMb !== undefined && rssBytes !== undefined && rssBytes > config.memoryThresholdMb * 1024 * 1024) return "memory";
  if (config.workerTtlMs !== undefined && now - worker.startedAt >= config.workerTtlMs) return "ttl";
  return undefined;
}

/**
 * Retry with backoff, for the pool's execute path and for users' own code. Only errors the
 * policy names are retried, never past the caller's deadline or signal.
 */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { SnakepitError, type SnakepitErrorCode } from "../errors.ts";
import { backoffMs, sleep } from "./backoff.ts";

/** Codes retried by default: the call surely did not run (no worker, queue full). */
export const DEFAULT_RETRIABLE: SnakepitErrorCode[] = ["pool_saturated", "worker_unavailable", "worker_spawn_failed"];

export const RetryPolicySchema = z.object({
  enabled: z.boolean().default(true).describe("Retry failed calls on the execute path"),
  maxAttempts: z.number().int().min(1).default(3).describe("Attempts in all, the first included"),
  backoffMs: z.array(z.number().int().nonnegative().max(MAX_TIMER_MS)).default([100, 200, 400, 800, 1_600]).describe("Wait before each retry"),
  jitter: z.number().min(0).max(1).default(0.25).describe("± fraction of each wait, random"),
  maxBackoffMs: z.number().int().nonnegative().max(MAX_TIMER_MS).default(30_000).describe("Longest wait"),
  retriable: z.array(z.string()).default(DEFAULT_RETRIABLE).describe("Error codes that are retried"),
}).strict();
export type RetryPolicy = z.output<typeof RetryPolicySchema>;

/** Options of one `withRetry` run. */
export interface RetryOptions {
  signal?: AbortSignal | undefined;
  /** Absolute `performance.now()` after which no retry starts. */
  deadline?: number | undefined;
  /** Extra test for retrying (in addition to the policy's codes). */
  isRetriable?: ((err: SnakepitError) => boolean) | undefined;
  onRetry?: ((err: SnakepitError, attempt: number, delayMs: number) => void) | undefined;
}

/** Run `fn(attempt)` until it succeeds, the error is not retriable, or attempts run out. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, options: RetryOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (reason) {
      const err = SnakepitError.from(reason);
      if (attempt > 1) err.details.attempts = attempt;
      const retriable = policy.enabled && (policy.retriable.includes(err.code) || (options.isRetriable?.(err) ?? false));
      if (!retriable || attempt >= policy.maxAttempts || options.signal?.aborted) throw err;
      const wait = backoffMs(attempt, { sequenceMs: policy.backoffMs, jitter: policy.jitter, maxMs: policy.maxBackoffMs });
      if (options.deadline !== undefined && performance.now() + wait >= options.deadline) throw err;
      options.onRetry?.(err, attempt, wait);
      await sleep(wait, options.signal);
    }
  }
}

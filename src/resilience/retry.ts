/**
 * Retry with backoff, for the pool's execute path and for users' own code. Only errors the
 * policy names are retried, never past the caller's deadline or signal, and never so as to add
 * load to an overloaded pool: overload errors (`pool_saturated`, `queue_timeout`) are not retried
 * while the pool is still saturated, and every retry takes from a retry budget.
 */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { SnakepitError, type SnakepitErrorCode } from "../errors.ts";
import { backoffMs, sleep } from "./backoff.ts";
import { isOverload } from "./outcome.ts";
import type { RetryBudget } from "./retry-budget.ts";

/** Codes retried by default: the call surely did not run (no worker, queue full). */
export const DEFAULT_RETRIABLE: SnakepitErrorCode[] = ["pool_saturated", "worker_unavailable", "worker_spawn_failed"];

export const RetryPolicySchema = z.object({
  enabled: z.boolean().default(true).describe("Retry failed calls on the execute path"),
  maxAttempts: z.number().int().min(1).default(3).describe("Attempts in all, the first included"),
  backoffMs: z.array(z.number().int().nonnegative().max(MAX_TIMER_MS)).default([100, 200, 400, 800, 1_600]).describe("Wait before each retry"),
  jitter: z.number().min(0).max(1).default(0.25).describe("± fraction of each wait, random"),
  maxBackoffMs: z.number().int().nonnegative().max(MAX_TIMER_MS).default(30_000).describe("Longest wait"),
  retriable: z.array(z.string()).default(DEFAULT_RETRIABLE).describe("Error codes that are retried (overload codes only while the pool is not saturated)"),
  budgetRatio: z.number().min(0).max(10).default(0.2).describe("Retries allowed per call made in the last 10 s (retry budget)"),
  budgetMinPerSecond: z.number().min(0).max(1_000_000).default(10).describe("Retries always allowed per second, on top of the ratio"),
}).strict();
export type RetryPolicy = z.output<typeof RetryPolicySchema>;

/** What the retry decision needs besides the error. */
export interface RetryContext {
  attempt: number;
  /** True when the pool's queue is full now: overload errors are then final. */
  saturated?: boolean | undefined;
  budget?: RetryBudget | undefined;
  /** Extra test for retrying (in addition to the policy's codes). */
  isRetriable?: ((err: SnakepitError) => boolean) | undefined;
}

/** Why a failed attempt is not retried, or `undefined` when it may be. Pure, except that it takes from the budget when it says yes. */
export function retryRefusal(err: SnakepitError, policy: RetryPolicy, ctx: RetryContext): string | undefined {
  if (!policy.enabled) return "retries disabled";
  if (!(policy.retriable.includes(err.code) || (ctx.isRetriable?.(err) ?? false))) return "not retriable";
  if (ctx.attempt >= policy.maxAttempts) return "attempts spent";
  if (isOverload(err.code) && ctx.saturated) return "pool still saturated";
  if (ctx.budget && !ctx.budget.tryRetry()) return "retry budget spent";
  return undefined;
}

/** Options of one `withRetry` run. */
export interface RetryOptions {
  signal?: AbortSignal | undefined;
  /** Absolute `performance.now()` after which no retry starts. */
  deadline?: number | undefined;
  /** Extra test for retrying (in addition to the policy's codes). */
  isRetriable?: ((err: SnakepitError) => boolean) | undefined;
  /** Shared retry budget (calls are counted in it too). */
  budget?: RetryBudget | undefined;
  /** Asked after the backoff wait: true means the pool is still saturated, so an overload error waits again instead of retrying. */
  isSaturated?: (() => boolean) | undefined;
  onRetry?: ((err: SnakepitError, attempt: number, delayMs: number) => void) | undefined;
}

/** Run `fn(attempt)` until it succeeds, the error is not retriable, or attempts (or the budget) run out. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, options: RetryOptions = {}): Promise<T> {
  options.budget?.recordCall();
  let err: SnakepitError | undefined;
  for (let attempt = 1; ; attempt++) {
    // An overload error while the pool is still saturated: wait again instead of adding a call.
    const skip = err !== undefined && isOverload(err.code) && (options.isSaturated?.() ?? false);
    if (err && !skip && options.budget && !options.budget.tryRetry()) throw err;
    if (!skip) {
      try {
        return await fn(attempt);
      } catch (reason) {
        err = SnakepitError.from(reason);
      }
    }
    if (attempt > 1) err!.details.attempts = attempt;
    const refusal = retryRefusal(err!, policy, { attempt, isRetriable: options.isRetriable });
    if (refusal !== undefined || options.signal?.aborted) throw err;
    const wait = backoffMs(attempt, { sequenceMs: policy.backoffMs, jitter: policy.jitter, maxMs: policy.maxBackoffMs });
    if (options.deadline !== undefined && performance.now() + wait >= options.deadline) throw err;
    options.onRetry?.(err!, attempt, wait);
    await sleep(wait, options.signal);
  }
}

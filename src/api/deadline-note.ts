/**
 * Deadline errors that name their budget: the client's `timeout_ms` (or the pool's default) is
 * split into the part Python gets and the margins the host keeps to cancel and answer in time,
 * so a 3000 ms call failing at ~1.8 s explains itself.
 */

import { innerTimeoutMs } from "../config/profiles.ts";
import { SnakepitError } from "../errors.ts";
import type { Snakepit } from "../snakepit.ts";

/** The budget a call to `pool` (default: the first) runs under when the client gave `timeoutMs` or none. */
export function budgetOf(pit: Snakepit, pool: string | undefined, timeoutMs: number | undefined, streaming = false): number | undefined {
  if (timeoutMs !== undefined) return timeoutMs;
  const p = pool ? pit.pools.get(pool) : pit.pools.values().next().value;
  return p ? (streaming ? p.timeouts.streamTimeoutMs : p.timeouts.executeTimeoutMs) : undefined;
}

/** `err` with its deadline budget and margins in the message and details; other errors unchanged. */
export function explainDeadline(err: unknown, budgetMs: number | undefined): unknown {
  if (budgetMs === undefined || !Number.isFinite(budgetMs)) return err;
  const e = SnakepitError.from(err);
  if (e.code !== "deadline_exceeded" || e.details.budgetMs !== undefined) return err;
  const inner = Math.round(innerTimeoutMs(budgetMs));
  const margins = Math.round(budgetMs) - inner;
  const message = `deadline of ${Math.round(budgetMs)} ms passed (inner budget ${inner} ms after ${margins} ms of margins): ${e.message}`;
  return new SnakepitError("deadline_exceeded", message, {
    cause: e,
    details: { ...e.details, budgetMs: Math.round(budgetMs), innerBudgetMs: inner, marginsMs: margins },
    ...(e.python ? { python: e.python } : {}),
  });
}

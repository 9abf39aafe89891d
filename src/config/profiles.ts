/** The seed's timeout profiles and deadline margins. */

/** Timeouts of one profile, in ms; `Infinity` means none. */
export interface TimeoutProfile {
  executeTimeoutMs: number;
  streamTimeoutMs: number;
  queueTimeoutMs: number;
}

/** Named timeout profiles, as in the seed. */
export const TIMEOUT_PROFILES = {
  balanced: { executeTimeoutMs: 300_000, streamTimeoutMs: 900_000, queueTimeoutMs: 10_000 },
  production: { executeTimeoutMs: 300_000, streamTimeoutMs: 900_000, queueTimeoutMs: 10_000 },
  production_strict: { executeTimeoutMs: 60_000, streamTimeoutMs: 300_000, queueTimeoutMs: 5_000 },
  development: { executeTimeoutMs: 900_000, streamTimeoutMs: 3_600_000, queueTimeoutMs: 60_000 },
  ml_inference: { executeTimeoutMs: 900_000, streamTimeoutMs: 3_600_000, queueTimeoutMs: 60_000 },
  batch: { executeTimeoutMs: 3_600_000, streamTimeoutMs: Infinity, queueTimeoutMs: 300_000 },
} as const satisfies Record<string, TimeoutProfile>;

/** Name of a timeout profile. */
export type TimeoutProfileName = keyof typeof TIMEOUT_PROFILES;

/** Subtracted from a call's budget for the worker hop (seed: worker_call_margin_ms). */
export const WORKER_CALL_MARGIN_MS = 1_000;
/** Subtracted from a call's budget for the reply hop (seed: pool_reply_margin_ms). */
export const POOL_REPLY_MARGIN_MS = 200;

/**
 * The deadline passed to Python: the remaining budget minus both margins, so that Python's
 * structured error arrives before the host's own timer fires. Small budgets keep 90 %.
 */
export function innerTimeoutMs(remainingMs: number): number {
  if (!Number.isFinite(remainingMs)) return Infinity;
  const margins = WORKER_CALL_MARGIN_MS + POOL_REPLY_MARGIN_MS;
  return remainingMs > margins * 2 ? remainingMs - margins : Math.max(1, Math.floor(remainingMs * 0.9));
}

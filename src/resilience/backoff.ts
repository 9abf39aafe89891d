/** Backoff delays: a sequence (the seed's style), capped, with proportional jitter. Pure. */

/** How long to wait before retry number `attempt` (1-based). */
export function backoffMs(
  attempt: number,
  options: { sequenceMs: readonly number[]; jitter?: number; maxMs?: number; random?: () => number },
): number {
  const { sequenceMs, jitter = 0, maxMs = Infinity, random = Math.random } = options;
  if (sequenceMs.length === 0) return 0;
  const base = sequenceMs[Math.min(attempt, sequenceMs.length) - 1] ?? sequenceMs[sequenceMs.length - 1]!;
  const spread = base * jitter * (random() * 2 - 1);
  return Math.max(0, Math.min(maxMs, Math.round(base + spread)));
}

/** Resolves after `ms`, or rejects with the signal's reason when it fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

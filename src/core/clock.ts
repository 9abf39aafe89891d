/**
 * Time, injectable: the call path, the queue and in-memory workers read the clock and set
 * timers through this, so tests can run them on fake time (`test/fake-clock.ts`).
 */

/** A timer handle; only `clear()` is promised. */
export interface Timer {
  clear(): void;
  /** Let the process exit while only this timer is pending (real timers only). */
  unref?(): void;
}

/** Monotonic milliseconds and timers. */
export interface Clock {
  /** Monotonic time in ms (like `performance.now()`). */
  now(): number;
  /** Run `fn` after `ms`; timers never keep the process alive. */
  setTimer(fn: () => void, ms: number): Timer;
}

/** The real clock. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    return { clear: () => clearTimeout(t), unref: () => unrefTimer(t) };
  },
};

// deno-lint-ignore no-explicit-any
const G = globalThis as any;

function unrefTimer(t: ReturnType<typeof setTimeout>): void {
  if (typeof t === "number") G.Deno?.unrefTimer?.(t);
  else (t as { unref?: () => void }).unref?.();
}

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when it fires first. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      timer.clear();
      reject(signal!.reason);
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

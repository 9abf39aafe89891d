/**
 * A retry budget: retries may add at most `ratio` of the calls made in the last `windowMs`, plus
 * `minPerSecond` so that a quiet pool can still retry. Under overload, when most calls fail,
 * retries stop instead of multiplying the load. Counted in one-second buckets (memory is bounded
 * whatever the rate); the clock is injected; `canRetry()` is a pure read.
 */

/** Options of a budget. */
export interface RetryBudgetOptions {
  /** Retries allowed per call made. @default 0.2 */
  ratio?: number;
  /** Retries always allowed per second of the window. @default 10 */
  minPerSecond?: number;
  /** Window length, whole seconds in ms. @default 10_000 */
  windowMs?: number;
  /** @default Date.now */
  now?: () => number;
}

interface Bucket {
  second: number;
  calls: number;
  retries: number;
}

export class RetryBudget {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly #seconds: number;
  readonly #buckets: Bucket[];
  readonly #now: () => number;

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.2;
    this.minPerSecond = options.minPerSecond ?? 10;
    this.#seconds = Math.max(1, Math.round((options.windowMs ?? 10_000) / 1_000));
    this.#buckets = Array.from({ length: this.#seconds }, () => ({ second: -1, calls: 0, retries: 0 }));
    this.#now = options.now ?? Date.now;
  }

  #bucket(now = this.#now()): Bucket {
    const second = Math.floor(now / 1_000);
    const b = this.#buckets[second % this.#seconds]!;
    if (b.second !== second) Object.assign(b, { second, calls: 0, retries: 0 });
    return b;
  }

  /** Calls and retries within the window ending now. */
  get usage(): { calls: number; retries: number } {
    const since = Math.floor(this.#now() / 1_000) - this.#seconds;
    let calls = 0;
    let retries = 0;
    for (const b of this.#buckets) {
      if (b.second <= since) continue;
      calls += b.calls;
      retries += b.retries;
    }
    return { calls, retries };
  }

  /** True when one more retry fits the budget. */
  canRetry(): boolean {
    const { calls, retries } = this.usage;
    return retries < this.minPerSecond * this.#seconds + this.ratio * calls;
  }

  /** Count a call's first attempt (`now`: the budget's clock, when the caller just read it). */
  recordCall(now?: number): void {
    this.#bucket(now).calls++;
  }

  /** Take a retry from the budget; false (and nothing taken) when it is spent. */
  tryRetry(): boolean {
    if (!this.canRetry()) return false;
    this.#bucket().retries++;
    return true;
  }
}

/** Restart intensity: at most `max` restarts in any `windowMs`. Pure; the clock is passed in. */

export class RestartBudget {
  readonly #times: number[] = [];
  readonly #max: number;
  readonly #windowMs: number;

  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** Restarts counted in the window ending at `now`. */
  used(now: number): number {
    while (this.#times.length && this.#times[0]! <= now - this.#windowMs) this.#times.shift();
    return this.#times.length;
  }

  /** 0 when a restart may happen now (and records it), else how long to wait before asking again. */
  take(now: number): number {
    if (this.used(now) >= this.#max) return this.#times[0]! + this.#windowMs - now;
    this.#times.push(now);
    return 0;
  }
}

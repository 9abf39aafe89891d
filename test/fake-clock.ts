// A fake clock for the call path: time moves only when a test says so; timers fire in order.
import type { Clock, Timer } from "../src/core/clock.ts";

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers: Pending[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const t: Pending = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, live: true };
    this.#timers.push(t);
    return { clear: () => void (t.live = false) };
  }

  /** Timers still waiting. */
  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }

  /** Move time forward by `ms`, firing due timers in order; lets promise callbacks run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settle();
      const due = this.#timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.live = false;
      this.#now = due.at;
      due.fn();
    }
    this.#now = end;
    this.#timers = this.#timers.filter((t) => t.live);
    await settle();
  }
}

/** Let queued promise callbacks and microtasks run (no real time passes). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

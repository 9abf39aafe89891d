/**
 * Deadlines of many calls on one clock timer: a min-heap ordered by time (then by insertion, so
 * equal deadlines fire in the order they were set). A timer per call costs a host timer, a
 * closure and a clear on the hot path; here a call's deadline is one heap insert and one removal,
 * and the clock timer is re-armed only when an earlier deadline arrives. A removed earliest
 * deadline leaves the timer armed: it fires, finds nothing due and re-arms for the next one.
 * With no deadline left, a timer that can be unref'd stays armed (sequential calls with one
 * budget then set no timer at all: each deadline is later than the armed one); one that cannot
 * is cleared, so nothing keeps the process alive.
 */

import type { Clock, Timer } from "./clock.ts";

/** Something with a deadline: `fire` runs once `at` (clock ms) has passed, unless removed first. */
export interface Deadline {
  /** When, on the clock, ms. */
  at: number;
  /** Position in the heap; -1 when not in it. Owned by `Deadlines`. */
  heapIndex: number;
  /** Insertion order among equal times. Owned by `Deadlines`. */
  heapSeq: number;
  fire(): void;
}

const before = (a: Deadline, b: Deadline) => a.at < b.at || (a.at === b.at && a.heapSeq < b.heapSeq);

export class Deadlines {
  readonly #clock: Clock;
  readonly #heap: Deadline[] = [];
  #seq = 0;
  #timer: Timer | undefined;
  #armedAt = Infinity;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Fire `item` at `item.at`. */
  add(item: Deadline): void {
    const heap = this.#heap;
    item.heapSeq = this.#seq++;
    item.heapIndex = heap.length;
    heap.push(item);
    this.#up(item.heapIndex);
    if (item.at < this.#armedAt) this.#arm(item.at);
  }

  /** Forget `item` (no-op when it already fired or was removed). */
  remove(item: Deadline): void {
    const i = item.heapIndex;
    if (i < 0) return;
    item.heapIndex = -1;
    const heap = this.#heap;
    const last = heap.pop()!;
    if (i < heap.length) {
      heap[i] = last;
      last.heapIndex = i;
      this.#down(i);
      this.#up(last.heapIndex);
    }
    if (heap.length === 0) this.#disarm();
  }

  #arm(at: number): void {
    this.#timer?.clear();
    this.#armedAt = at;
    const timer = this.#clock.setTimer(() => this.#fire(), Math.max(0, at - this.#clock.now()));
    timer.unref?.();
    this.#timer = timer;
  }

  #disarm(): void {
    if (this.#timer?.unref) return;
    this.#timer?.clear();
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.at <= now) {
      const item = heap[0]!;
      this.remove(item);
      item.fire();
    }
    // What fired may have set deadlines (and armed for them): arm for the earliest of all.
    if (heap.length > 0 && heap[0]!.at < this.#armedAt) this.#arm(heap[0]!.at);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const item = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (!before(item, parent)) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    heap[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(heap[r]!, heap[l]!) ? r : l;
      const child = heap[c]!;
      if (!before(child, item)) break;
      heap[i] = child;
      child.heapIndex = i;
      i = c;
    }
    heap[i] = item;
    item.heapIndex = i;
  }
}

const byClock = new WeakMap<Clock, Deadlines>();

/** The one deadline heap of `clock`. */
export function deadlinesOf(clock: Clock): Deadlines {
  let d = byClock.get(clock);
  if (!d) byClock.set(clock, (d = new Deadlines(clock)));
  return d;
}

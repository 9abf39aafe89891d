/**
 * The receiving end of one stream: messages pushed as they arrive, read as an async iterator
 * that grants the sender more credit as it goes and cancels the call when the reader stops early.
 * `takeNow()` hands out a message already here without a promise, so a reader can take a burst
 * (every message one read of the pipe brought) in one turn; it keeps the same credit count.
 */

import { STREAM_WINDOW } from "./channel.ts";

/** What `takeNow()` returns when no message is waiting. */
export const EMPTY: unique symbol = Symbol("inbox.empty");

export class Inbox<T> {
  #items: T[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  #done = false;
  #failure: unknown;
  #taken = 0;
  /** An item was handed out and the reader has not come back since. */
  #handed = false;
  #credit: ((n: number) => void) | undefined;

  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  /** Many messages at once (a batch packet): the array is adopted when nothing is waiting, not copied. */
  pushAll(items: T[]): void {
    if (this.#head === this.#items.length) {
      this.#items = items;
      this.#head = 0;
    } else {
      for (let i = 0; i < items.length; i++) this.#items.push(items[i]!);
    }
    this.#wake?.();
  }

  /** The stream ended, with an error or not. */
  end(failure?: unknown): void {
    this.#done = true;
    this.#failure = failure;
    this.#wake?.();
  }

  get isDone(): boolean {
    return this.#done;
  }

  /**
   * The next message if one is waiting, else `EMPTY`. Coming back for more is what grants
   * credit: every half window the reader has finished with, as `read` does.
   */
  takeNow(): T | typeof EMPTY {
    if (this.#handed) {
      this.#handed = false;
      if (++this.#taken % (STREAM_WINDOW / 2) === 0) this.#credit?.(STREAM_WINDOW / 2);
    }
    if (this.#head === this.#items.length) return EMPTY;
    const item = this.#items[this.#head++]!;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    this.#handed = true;
    return item;
  }

  /** Read everything; `credit(n)` grants more every half window; `cancel()` runs if the reader leaves early. */
  async *read(credit: (n: number) => void, cancel: () => void): AsyncGenerator<T, void, undefined> {
    this.#credit = credit;
    try {
      for (;;) {
        const item = this.takeNow();
        if (item !== EMPTY) {
          yield item;
          continue;
        }
        if (this.#done) {
          if (this.#failure) throw this.#failure;
          return;
        }
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
      }
    } finally {
      if (!this.#done) cancel();
    }
  }
}

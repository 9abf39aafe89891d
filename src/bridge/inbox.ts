/**
 * The receiving end of one stream: messages pushed as they arrive, read as an async iterator
 * that grants the sender more credit as it goes and cancels the call when the reader stops early.
 */

import { STREAM_WINDOW } from "./channel.ts";

export class Inbox<T> {
  #items: T[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  #done = false;
  #failure: unknown;

  push(item: T): void {
    this.#items.push(item);
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

  /** Read everything; `credit(n)` grants more every half window; `cancel()` runs if the reader leaves early. */
  async *read(credit: (n: number) => void, cancel: () => void): AsyncGenerator<T, void, undefined> {
    let taken = 0;
    try {
      for (;;) {
        if (this.#head < this.#items.length) {
          const item = this.#items[this.#head++]!;
          if (this.#head === this.#items.length) {
            this.#items = [];
            this.#head = 0;
          }
          yield item;
          if (++taken % (STREAM_WINDOW / 2) === 0) credit(STREAM_WINDOW / 2);
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

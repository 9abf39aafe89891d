/**
 * Keeps a node's advertisement fresh: rewritten every `heartbeatMs` (the bucket's TTL drops it
 * when the node dies) and soon after capacity changes, at most every `minGapMs`.
 */

import type { KV } from "@nats-io/kv";
import type { NodeAdvert } from "./advert.ts";

export class Advertiser {
  readonly #kv: KV;
  readonly #node: string;
  readonly #build: () => NodeAdvert;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #minGapMs: number;
  #lastAt = 0;
  #pending: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  /** When the advertisement was last written (performance.now()). */
  writtenAt = -Infinity;

  constructor(kv: KV, options: { node: string; build: () => NodeAdvert; heartbeatMs: number; minGapMs?: number }) {
    this.#kv = kv;
    this.#node = options.node;
    this.#build = options.build;
    this.#minGapMs = options.minGapMs ?? 50;
    this.#timer = setInterval(() => void this.publish(), options.heartbeatMs);
  }

  /** Write the advertisement now. */
  publish(): Promise<void> {
    if (this.#closed) return this.#writing;
    this.#lastAt = performance.now();
    this.#writing = this.#writing.then(async () => {
      if (this.#closed) return;
      try {
        await this.#kv.put(this.#node, JSON.stringify(this.#build()));
        this.writtenAt = performance.now();
      } catch {
        // reconnecting: the next heartbeat tries again
      }
    });
    return this.#writing;
  }

  /** Capacity changed: advertise soon. */
  changed(): void {
    if (this.#pending || this.#closed) return;
    const wait = Math.max(0, this.#minGapMs - (performance.now() - this.#lastAt));
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      void this.publish();
    }, wait);
  }

  /** Stop refreshing and remove the advertisement (a graceful leave). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#pending);
    await this.#writing;
    await this.#kv.delete(this.#node).catch(() => {});
  }
}

/**
 * The live view of the cluster's nodes, from a watch on the nodes bucket. A node is alive while
 * its advertisement is younger than `nodeTimeoutMs` (by this process's clock, so clocks of other
 * machines do not matter); a node that stops refreshing, or leaves, is reported lost once.
 */

import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { NodeAdvert } from "./advert.ts";

interface Entry {
  advert: NodeAdvert;
  seenAt: number;
  /** Calls this process sent the node since its last advertisement (not yet in its figures). */
  sentSince: number;
  alive: boolean;
}

/** A node as the directory sees it. */
export interface NodeView extends NodeAdvert {
  alive: boolean;
  /** Milliseconds since the node last refreshed its advertisement. */
  ageMs: number;
}

export class NodeDirectory {
  readonly #nodes = new Map<string, Entry>();
  readonly #lost = new Set<(node: string) => void>();
  readonly #timeoutMs: number;
  readonly #timer: ReturnType<typeof setInterval>;
  #stop: (() => void) | undefined;

  private constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#timer = setInterval(() => this.#sweep(), Math.max(50, Math.floor(timeoutMs / 8)));
  }

  /** Start watching; resolves once the current advertisements are loaded. */
  static async open(kv: KV, timeoutMs: number): Promise<NodeDirectory> {
    const dir = new NodeDirectory(timeoutMs);
    const watch = await kv.watch();
    dir.#stop = () => watch.stop();
    let loaded!: () => void;
    const initial = new Promise<void>((r) => (loaded = r));
    void (async () => {
      for await (const e of watch) {
        dir.#apply(e);
        if (!e.isUpdate && !e.delta) loaded();
      }
      loaded();
    })();
    // An empty bucket sends nothing at all: do not wait for it.
    await Promise.race([initial, new Promise((r) => setTimeout(r, 300))]);
    return dir;
  }

  #apply(e: KvWatchEntry): void {
    if (e.operation !== "PUT") return this.#drop(e.key);
    let advert: NodeAdvert;
    try {
      advert = e.json<NodeAdvert>();
    } catch {
      return;
    }
    const now = Date.now();
    // Entries of the first snapshot may be old: count their age from the server's timestamp.
    const seenAt = e.isUpdate ? now : Math.min(now, e.created.getTime());
    const prior = this.#nodes.get(e.key);
    this.#nodes.set(e.key, { advert, seenAt, sentSince: 0, alive: prior?.alive ?? true });
    this.#sweep();
  }

  #drop(node: string): void {
    const entry = this.#nodes.get(node);
    this.#nodes.delete(node);
    if (entry?.alive) this.#emitLost(node);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [node, entry] of this.#nodes) {
      const alive = now - entry.seenAt < this.#timeoutMs;
      if (entry.alive && !alive) {
        entry.alive = false;
        this.#emitLost(node);
      } else if (alive) {
        entry.alive = true;
      }
      if (now - entry.seenAt > 10 * this.#timeoutMs) this.#nodes.delete(node);
    }
  }

  #emitLost(node: string): void {
    for (const fn of this.#lost) fn(node);
  }

  /** Called once for each node that is lost; returns the unsubscribe function. */
  onLost(fn: (node: string) => void): () => void {
    this.#lost.add(fn);
    return () => this.#lost.delete(fn);
  }

  /** When `node` joined (its advertisement's `startedAt`): a restarted node has a new one. */
  startedAt(node: string): number | undefined {
    return this.#nodes.get(node)?.advert.startedAt;
  }

  isAlive(node: string): boolean {
    return this.#nodes.get(node)?.alive === true;
  }

  /** A note that a call went to `node` (its free slots shrink until it advertises again). */
  sent(node: string): void {
    const entry = this.#nodes.get(node);
    if (entry) entry.sentSince++;
  }

  /** Free slots of `pool` on `node` as far as this process knows. */
  free(node: string, pool: string): number {
    const entry = this.#nodes.get(node);
    const p = entry?.advert.pools[pool];
    return entry && p ? p.free - entry.sentSince : 0;
  }

  /** Calls per slot of `pool` on `node` (in flight, queued, sent since): where a call waits least. */
  load(node: string, pool: string): number {
    const entry = this.#nodes.get(node);
    const p = entry?.advert.pools[pool];
    return entry && p ? (p.inFlight + p.queued + entry.sentSince) / Math.max(1, p.capacity) : Infinity;
  }

  /**
   * Live nodes running `pool`, best first: most free slots, then fewest calls per slot (ties in
   * random order, so that callers spread).
   */
  candidates(pool: string, exclude: ReadonlySet<string> = new Set()): string[] {
    const out: Array<{ node: string; free: number; queued: number; tie: number }> = [];
    for (const [node, entry] of this.#nodes) {
      const p = entry.advert.pools[pool];
      if (!entry.alive || !p || exclude.has(node)) continue;
      out.push({ node, free: Math.max(0, p.free - entry.sentSince), queued: (p.inFlight + p.queued + entry.sentSince) / Math.max(1, p.capacity), tie: Math.random() });
    }
    out.sort((a, b) => b.free - a.free || a.queued - b.queued || a.tie - b.tie);
    return out.map((c) => c.node);
  }

  /** Pools offered anywhere in the cluster. */
  poolNames(): string[] {
    return [...new Set([...this.#nodes.values()].filter((e) => e.alive).flatMap((e) => Object.keys(e.advert.pools)))];
  }

  /** The affinity mode a pool advertises (the first live node's). */
  affinity(pool: string): string | undefined {
    for (const e of this.#nodes.values()) if (e.alive && e.advert.pools[pool]) return e.advert.pools[pool].affinity;
    return undefined;
  }

  /** Every known node, alive or recently lost. */
  list(): NodeView[] {
    const now = Date.now();
    return [...this.#nodes.values()].map((e) => ({ ...e.advert, alive: e.alive, ageMs: now - e.seenAt })).sort((a, b) => a.node.localeCompare(b.node));
  }

  close(): void {
    clearInterval(this.#timer);
    this.#stop?.();
    this.#lost.clear();
  }
}

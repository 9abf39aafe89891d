/**
 * Which node holds each session, in the sessions bucket: the first node to claim a session wins
 * (an atomic create), a session is moved only from the node it was on, and every process keeps
 * a cache it refreshes when the cached node is gone.
 */

import type { KV } from "@nats-io/kv";
import { SnakepitError } from "../errors.ts";

/** A session's record. */
export interface SessionRecord {
  node: string;
  /** The node's `startedAt` when it took the session: a restarted node lost the session's state. */
  nodeStartedAt: number | undefined;
  pool: string;
  claimedAt: number;
}

/** Session ids may hold any character; bucket keys may not. */
function key(id: string): string {
  return "s_" + Buffer.from(id, "utf8").toString("base64url");
}

export class SessionMap {
  readonly #kv: KV;
  readonly #cache = new Map<string, { record: SessionRecord; revision: number }>();

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /** The session's record; `fresh` skips the cache. */
  async get(id: string, fresh = false): Promise<SessionRecord | undefined> {
    const cached = this.#cache.get(id);
    if (cached && !fresh) return cached.record;
    const entry = await this.#kv.get(key(id));
    if (!entry || entry.operation !== "PUT") {
      this.#cache.delete(id);
      return undefined;
    }
    const record = entry.json<SessionRecord>();
    this.#cache.set(id, { record, revision: entry.revision });
    return record;
  }

  /** Record the session on `node` unless another node has it already; returns the holder. */
  async claim(id: string, holder: Pick<SessionRecord, "node" | "pool" | "nodeStartedAt">, retry = true): Promise<SessionRecord> {
    const record: SessionRecord = { ...holder, claimedAt: Date.now() };
    const cached = this.#cache.get(id);
    try {
      const revision = cached
        ? await this.#kv.update(key(id), JSON.stringify(record), cached.revision)
        : await this.#kv.create(key(id), JSON.stringify(record));
      this.#cache.set(id, { record, revision });
      return record;
    } catch {
      // someone else claimed (or moved) it first
      const current = await this.get(id, true);
      if (current) return current;
      if (retry) return this.claim(id, holder, false);
      throw new SnakepitError("internal", `Cannot record session "${id}" in the cluster`, { details: { session: id } });
    }
  }

  /** Drop the record (session ended). */
  async forget(id: string): Promise<void> {
    this.#cache.delete(id);
    await this.#kv.delete(key(id)).catch(() => {});
  }
}

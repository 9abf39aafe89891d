/** Session records and the store interface (in-memory by default; a persistent one can plug in). */

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Calls of one session. */
export interface SessionStats {
  calls: number;
  errors: number;
  lastCallAt: number | undefined;
  /** Sum of the calls' durations, ms. */
  totalMs: number;
}

/** One session as the host keeps it. Written only by session/ (the manager and its leases). */
export interface Session {
  id: string;
  createdAt: number;
  lastAccessedAt: number;
  /** Idle time after which the session expires. */
  ttlMs: number;
  /** Caller's data about the session: any JSON value. */
  metadata: JsonValue;
  /** The worker that last served the session, per pool: where its Python state lives. */
  workers: Record<string, string>;
  stats: SessionStats;
  /** Calls of this session still running (their end re-sends the state cleanup of a closed session). */
  inFlight: number;
  /** Set when the session ended while calls were still running. */
  ended?: boolean;
}

/** Storage of sessions. Methods are synchronous so the call path never waits on it. */
export interface SessionStore {
  get(id: string): Session | undefined;
  set(session: Session): void;
  delete(id: string): boolean;
  /** Sessions idle past their TTL at `now`. */
  expired(now: number): Session[];
  list(): Session[];
  readonly size: number;
}

/** The default store: a Map. */
export class MemorySessionStore implements SessionStore {
  readonly #map = new Map<string, Session>();

  get(id: string): Session | undefined {
    return this.#map.get(id);
  }

  set(session: Session): void {
    this.#map.set(session.id, session);
  }

  delete(id: string): boolean {
    return this.#map.delete(id);
  }

  expired(now: number): Session[] {
    const out: Session[] = [];
    for (const s of this.#map.values()) if (now - s.lastAccessedAt > s.ttlMs) out.push(s);
    return out;
  }

  list(): Session[] {
    return [...this.#map.values()];
  }

  get size(): number {
    return this.#map.size;
  }
}

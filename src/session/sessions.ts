/**
 * Sessions: create / get (touches) / delete / list, TTL expiry swept periodically, a maximum
 * count with a warning at 80 %, per-session stats, and the worker that holds each session's
 * Python state (told to drop it when the session ends).
 */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { SnakepitError } from "../errors.ts";
import type { EventBus } from "../telemetry/bus.ts";
import { SessionLease } from "./lease.ts";
import { type JsonValue, MemorySessionStore, type Session, type SessionStats, type SessionStore } from "./store.ts";

/** Session settings (top level of the config, shared by all pools). */
export const SessionConfigSchema = z.object({
  ttlMs: z.number().int().positive().max(MAX_TIMER_MS).default(3_600_000).describe("Idle time after which a session expires"),
  maxTtlMs: z.number().int().positive().max(MAX_TIMER_MS).default(86_400_000).describe("Longest TTL a caller may ask for when creating a session"),
  sweepIntervalMs: z.number().int().positive().max(MAX_TIMER_MS).default(60_000).describe("How often expired sessions are swept"),
  maxSessions: z.number().int().positive().max(MAX_TIMER_MS).default(10_000).describe("Most sessions at once; more fail with `session_limit`"),
  warnAt: z.number().min(0).max(1).default(0.8).describe("Fraction of maxSessions at which a warning event is emitted"),
  autoCreate: z.boolean().default(true).describe("A call with an unknown session id creates the session"),
}).strict();
export type SessionConfig = z.output<typeof SessionConfigSchema>;
export type SessionConfigInput = z.input<typeof SessionConfigSchema>;

/** Options when creating a session. */
export interface CreateSessionOptions {
  ttlMs?: number;
  /** Any JSON value. */
  metadata?: JsonValue;
}

/**
 * Called when a session's worker state should be dropped: when it ends, and again when its last
 * running call ends after that (the call may have re-created the state).
 */
export type SessionEndHook = (session: Session, reason: "deleted" | "expired" | "drained") => void;

/** A session's figures (`sessions.stats(id)`). */
export interface SessionStatsView extends SessionStats {
  id: string;
  inFlight: number;
  ageMs: number;
  idleMs: number;
  /** Pool -> worker holding the session's state. */
  workers: Record<string, string>;
}

const ID = /^[A-Za-z0-9_.:@-]{1,256}$/;

export class SessionManager {
  readonly config: SessionConfig;
  readonly #store: SessionStore;
  readonly #bus: EventBus;
  readonly #onEnd: SessionEndHook;
  readonly #timer: ReturnType<typeof setInterval>;
  #warned = false;
  readonly #now: () => number;

  readonly #onCreate: ((session: Session) => void) | undefined;

  constructor(config: SessionConfig, deps: { bus: EventBus; onEnd: SessionEndHook; onCreate?: (session: Session) => void; store?: SessionStore; now?: () => number }) {
    this.config = config;
    this.#onCreate = deps.onCreate;
    this.#store = deps.store ?? new MemorySessionStore();
    this.#bus = deps.bus;
    this.#onEnd = deps.onEnd;
    this.#now = deps.now ?? Date.now;
    this.#timer = setInterval(() => this.sweep(), config.sweepIntervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  get size(): number {
    return this.#store.size;
  }

  /** Create a session (an existing id is returned as is, touched). */
  create(id: string, options: CreateSessionOptions = {}): Session {
    if (!ID.test(id)) {
      throw new SnakepitError("invalid_argument", `Session id "${id.slice(0, 40)}" must be 1–256 characters of letters, digits and _ . : @ -`, { details: { field: "session_id" } });
    }
    if (options.ttlMs !== undefined && (!Number.isInteger(options.ttlMs) || options.ttlMs <= 0 || options.ttlMs > this.config.maxTtlMs)) {
      throw new SnakepitError("invalid_argument", `Session TTL ${options.ttlMs} ms is outside 1..${this.config.maxTtlMs} ms (sessions.maxTtlMs)`, { details: { field: "ttl_ms" } });
    }
    const existing = this.get(id);
    if (existing) return existing;
    const { maxSessions, warnAt } = this.config;
    if (this.#store.size >= maxSessions) {
      this.sweep();
      if (this.#store.size >= maxSessions) {
        throw new SnakepitError("session_limit", `Cannot create session "${id}": ${maxSessions} sessions exist (maxSessions); delete some or raise the limit`, {
          details: { maxSessions },
        });
      }
    }
    const now = this.#now();
    const session: Session = {
      id,
      createdAt: now,
      lastAccessedAt: now,
      ttlMs: options.ttlMs ?? this.config.ttlMs,
      metadata: checkJson(options.metadata ?? {}, id),
      workers: {},
      stats: { calls: 0, errors: 0, lastCallAt: undefined, totalMs: 0 },
      inFlight: 0,
    };
    this.#store.set(session);
    const used = this.#store.size / maxSessions;
    if (used >= warnAt && !this.#warned) {
      this.#warned = true;
      this.#bus.emit("session.limit_warning", { sessions: this.#store.size, maxSessions });
    } else if (used < warnAt) {
      this.#warned = false;
    }
    this.#onCreate?.(session);
    this.#bus.emit("session.created", { session: id });
    return session;
  }

  /** The session, touched; undefined when unknown or expired. */
  get(id: string): Session | undefined {
    const s = this.#store.get(id);
    if (!s) return undefined;
    const now = this.#now();
    if (now - s.lastAccessedAt > s.ttlMs) {
      this.#end(s, "expired");
      return undefined;
    }
    s.lastAccessedAt = now;
    return s;
  }

  /** The session for a call: created when unknown and autoCreate is on, else session_not_found. */
  forCall(id: string): Session {
    const s = this.get(id);
    if (s) return s;
    if (this.config.autoCreate) return this.create(id);
    throw new SnakepitError("session_not_found", `No session "${id}" (it may have expired); create it first`, { details: { session: id } });
  }

  /** True when the session exists and has not expired (does not touch it). */
  exists(id: string): boolean {
    const s = this.#store.get(id);
    return s !== undefined && this.#now() - s.lastAccessedAt <= s.ttlMs;
  }

  /** Replace a session's metadata (any JSON value); session_not_found when it does not exist. */
  updateMetadata(id: string, metadata: JsonValue): Session {
    const s = this.#require(id);
    s.metadata = checkJson(metadata, id);
    return s;
  }

  /** A session's figures; session_not_found when it does not exist. */
  stats(id: string): SessionStatsView {
    // Reading figures does not touch the session (it would keep it alive).
    const s = this.exists(id) ? this.#store.get(id) : undefined;
    if (!s) throw new SnakepitError("session_not_found", `No session "${id}" (it may have expired)`, { details: { session: id } });
    const now = this.#now();
    return { id, ...s.stats, inFlight: s.inFlight, ageMs: now - s.createdAt, idleMs: now - s.lastAccessedAt, workers: { ...s.workers } };
  }

  /**
   * Lease a session for one call (created when unknown and autoCreate is on): counts the call in
   * flight until `release()`; binds the session to workers as the call is placed.
   */
  lease(id: string): SessionLease {
    return new SessionLease(this.forCall(id), {
      now: this.#now,
      deferredCleanup: (session) => this.#onEnd(session, "drained"),
    });
  }

  #require(id: string): Session {
    const s = this.get(id);
    if (s) return s;
    throw new SnakepitError("session_not_found", `No session "${id}" (it may have expired)`, { details: { session: id } });
  }

  /** Delete a session and drop its worker state. Returns false when it did not exist. */
  delete(id: string): boolean {
    const s = this.#store.get(id);
    if (!s) return false;
    this.#end(s, "deleted");
    return true;
  }

  /** Live sessions (expired ones not yet swept are left out). */
  list(): Session[] {
    const now = this.#now();
    return this.#store.list().filter((s) => now - s.lastAccessedAt <= s.ttlMs);
  }

  /** Expire idle sessions now; returns how many ended. */
  sweep(): number {
    const expired = this.#store.expired(this.#now());
    for (const s of expired) this.#end(s, "expired");
    return expired.length;
  }

  #end(session: Session, reason: "deleted" | "expired"): void {
    this.#store.delete(session.id);
    session.ended = true;
    this.#onEnd(session, reason);
    this.#bus.emit(reason === "expired" ? "session.expired" : "session.deleted", { session: session.id });
  }

  /** Stop the sweep timer (at close). Sessions are dropped with their workers. */
  close(): void {
    clearInterval(this.#timer);
  }
}

/** Metadata must survive JSON: no functions, cycles, BigInts, or non-finite numbers. */
function checkJson(value: unknown, id: string): JsonValue {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new SnakepitError("invalid_argument", `Metadata of session "${id}" is not JSON: ${(err as Error).message}`, { details: { field: "metadata" } });
  }
  if (text === undefined) throw new SnakepitError("invalid_argument", `Metadata of session "${id}" is not a JSON value`, { details: { field: "metadata" } });
  return JSON.parse(text) as JsonValue;
}

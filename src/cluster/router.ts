/**
 * Where each call runs. Without a session: here when a local worker is free, else the live node
 * with the most free slots (a node that answers `busy` is skipped), else queued here, else queued
 * on the best node. A call that never started moves on; one whose node was lost after it started
 * is retried elsewhere only when idempotent. A session's calls go to the node recorded for it.
 */

import { abortError, SnakepitError } from "../errors.ts";
import type { CallOptions } from "../facade/types.ts";
import type { Caller, CallSpec, NotStarted } from "./caller.ts";
import type { ClusterConfig } from "../config/cluster.ts";
import type { NodeDirectory } from "./directory.ts";
import { type LocalRunner, localOptions } from "./local.ts";
import { placeSession, type SessionPlacementDeps } from "./session-placement.ts";
import type { SessionMap } from "./session-map.ts";
import { toWireValue } from "./wire.ts";

/** A served call, for events and metrics. */
export interface RoutedCall {
  pool: string;
  tool: string;
  /** The node that ran it (this node's name for local calls). */
  servedBy: string;
  durationMs: number;
  outcome: string;
  attempts: number;
}

/** What the router is built from. */
export interface RouterDeps {
  /** This node's name; undefined for a client-only handle. */
  self: string | undefined;
  /** When this node joined (undefined for a client). */
  selfStartedAt: number | undefined;
  local: LocalRunner | undefined;
  dir: NodeDirectory;
  caller: Caller;
  sessions: SessionMap;
  config: ClusterConfig;
  /** False when a session unknown to the cluster must not be created by a call. @default always true */
  mayCreateSession?: ((sessionId: string) => boolean) | undefined;
  /** Run after a strict session lost its node, once it is placed anew (the facade's hook). */
  rehydrate?: ((ctx: { sessionId: string; pool: string; lostNode: string }) => Promise<void> | void) | undefined;
  onCall(call: RoutedCall): void;
}

type Target = { local: true } | { local: false; node: string; mayQueue: boolean };
const NONE: ReadonlySet<string> = new Set();

export class Router {
  readonly #d: RouterDeps;

  constructor(deps: RouterDeps) {
    this.#d = deps;
  }

  /** The pool a call names, or the only/first one there is. */
  poolName(pool: string | undefined): string {
    if (pool !== undefined) {
      if (this.#d.local?.hasPool(pool) || this.#d.dir.poolNames().includes(pool)) return pool;
      throw new SnakepitError("invalid_argument", `No pool named "${pool}" in the cluster (pools: ${this.#allPools().join(", ") || "none"})`, { details: { field: "pool" } });
    }
    const first = this.#allPools()[0];
    if (first === undefined) throw new SnakepitError("worker_unavailable", "No node of the cluster runs a pool yet", { details: { field: "pool" } });
    return first;
  }

  #allPools(): string[] {
    return [...new Set([...(this.#d.local ? localPools(this.#d.local) : []), ...this.#d.dir.poolNames()])];
  }

  /** Where a call without a session goes next. */
  place(pool: string, exclude: ReadonlySet<string>, busy: ReadonlySet<string>): Target | undefined {
    const { self, local, dir } = this.#d;
    const here = local?.hasPool(pool) === true && !(self !== undefined && exclude.has(self));
    if (here && local!.free(pool) > 0) return { local: true };
    const skip = new Set(exclude);
    if (self !== undefined) skip.add(self);
    const remote = dir.candidates(pool, skip);
    const free = remote.find((n) => !busy.has(n) && dir.free(n, pool) > 0);
    if (free) return { local: false, node: free, mayQueue: false };
    // No free slot anywhere: wait in the shortest line per slot (candidates are sorted by it).
    const best = remote[0];
    if (here && (best === undefined || local!.load(pool) <= dir.load(best, pool))) return { local: true };
    return best === undefined ? undefined : { local: false, node: best, mayQueue: true };
  }

  /** Run a call somewhere in the cluster. */
  execute(tool: string, args: Record<string, unknown>, options: CallOptions): Promise<unknown> {
    let pool: string;
    try {
      pool = this.poolName(options.pool);
    } catch (err) {
      return Promise.reject(err);
    }
    // The common case, a free worker here (or the shortest line is here): straight to the pool,
    // which applies the caller's own signal and budget (no scope, no await).
    if (options.sessionId === undefined && this.#d.local?.hasPool(pool) && this.place(pool, NONE, NONE)?.local) {
      const t0 = performance.now();
      const report = (outcome: string) => this.#d.onCall({ pool, tool, servedBy: this.#d.self!, durationMs: performance.now() - t0, outcome, attempts: 1 });
      return this.#d.local.execute(tool, args, localOptions({ ...options, pool })).then(
        (value) => (report("ok"), value),
        (err: unknown) => {
          report(SnakepitError.from(err).code);
          throw err;
        },
      );
    }
    return this.#execute(pool, tool, args, options);
  }

  /** Where the next attempt of a call goes: its session's node, or the best placement. */
  async #target(pool: string, options: CallOptions, exclude: Set<string>, busy: Set<string>) {
    const target = options.sessionId === undefined
      ? this.place(pool, exclude, busy)
      : await placeSession(this.#sessionDeps(), { pool, sessionId: options.sessionId, affinity: options.affinity, exclude });
    if (!target) throw unavailable(pool, exclude);
    return target;
  }

  async #execute(pool: string, tool: string, args: Record<string, unknown>, options: CallOptions): Promise<unknown> {
    using call = callScope(options);
    const t0 = performance.now();
    const report = (servedBy: string, outcome: string, attempts: number) =>
      this.#d.onCall({ pool, tool, servedBy, durationMs: performance.now() - t0, outcome, attempts });
    const exclude = new Set<string>();
    const busy = new Set<string>();
    let attempts = 0;
    let lostRetries = 0;
    for (;;) {
      if (call.signal.aborted) throw abortError(call.signal);
      const target = await this.#target(pool, options, exclude, busy);
      attempts++;
      const servedBy = target.local ? this.#d.self! : target.node;
      try {
        if (target.local) {
          const value = await this.#d.local!.execute(tool, args, localOptions({ ...options, pool, signal: call.signal, timeoutMs: call.remainingMs() }));
          report(servedBy, "ok", attempts);
          return value;
        }
        const out = await this.#d.caller.execute(target.node, this.#spec(pool, tool, args, options, call.remainingMs()), { mayQueue: target.mayQueue, signal: call.signal });
        if ("value" in out) {
          report(servedBy, "ok", attempts);
          return out.value;
        }
        this.#notStarted(out, target.node, exclude, busy);
      } catch (err) {
        const e = SnakepitError.from(err);
        const idempotent = options.idempotent === true || options.idempotencyKey !== undefined;
        if (e.details.nodeLost === true && idempotent && ++lostRetries < this.#d.config.maxAttempts && !call.signal.aborted) {
          exclude.add(servedBy);
          continue;
        }
        report(servedBy, e.code, attempts);
        throw this.#sessionLost(e, options.sessionId, pool);
      }
    }
  }

  /** Stream a call's chunks from wherever it runs; only a stream that has not started moves. */
  async *stream(tool: string, args: Record<string, unknown>, options: CallOptions): AsyncGenerator<unknown, void, undefined> {
    const pool = this.poolName(options.pool);
    using call = callScope(options);
    const t0 = performance.now();
    const exclude = new Set<string>();
    const busy = new Set<string>();
    let servedBy: string | undefined;
    let outcome = "ok";
    let attempts = 0;
    try {
      for (;;) {
        if (call.signal.aborted) throw abortError(call.signal);
        const target = await this.#target(pool, options, exclude, busy);
        attempts++;
        if (target.local) {
          servedBy = this.#d.self;
          yield* this.#d.local!.stream(tool, args, localOptions({ ...options, pool, signal: call.signal, timeoutMs: call.remainingMs() }));
          return;
        }
        const spec = this.#spec(pool, tool, args, options, call.remainingMs());
        const out = await this.#d.caller.stream(target.node, spec, { mayQueue: target.mayQueue, signal: call.signal, credit: this.#d.config.streamCredit });
        if ("chunks" in out) {
          servedBy = target.node;
          try {
            yield* out.chunks;
          } catch (err) {
            throw this.#sessionLost(SnakepitError.from(err), options.sessionId, pool);
          }
          return;
        }
        this.#notStarted(out, target.node, exclude, busy);
      }
    } catch (err) {
      outcome = SnakepitError.from(err).code;
      throw err;
    } finally {
      if (servedBy !== undefined) this.#d.onCall({ pool, tool, servedBy, durationMs: performance.now() - t0, outcome, attempts });
    }
  }

  #notStarted(out: NotStarted, node: string, exclude: Set<string>, busy: Set<string>): void {
    if (out.kind === "busy") {
      // Busy everywhere: queue on the best node rather than spin.
      if (busy.has(node)) exclude.add(node);
      busy.add(node);
    } else {
      exclude.add(node);
    }
  }

  /** A session whose node died mid-call: its state is gone with it. */
  #sessionLost(e: SnakepitError, sessionId: string | undefined, pool: string): SnakepitError {
    if (sessionId === undefined || e.details.nodeLost !== true) return e;
    void this.#d.sessions.forget(sessionId);
    return new SnakepitError("session_worker_lost", `Session "${sessionId}" lost its node "${String(e.details.node)}" during a call; its state is gone`, {
      details: { session: sessionId, pool, node: e.details.node, worker: e.details.node },
      cause: e,
    });
  }

  #sessionDeps(): SessionPlacementDeps {
    return { self: this.#d.self, selfStartedAt: this.#d.selfStartedAt, local: this.#d.local, dir: this.#d.dir, sessions: this.#d.sessions, rehydrate: this.#d.rehydrate, mayCreate: (id) => this.#d.mayCreateSession?.(id) ?? true, place: (pool, ex) => this.place(pool, ex, new Set()) };
  }

  #spec(pool: string, tool: string, args: Record<string, unknown>, options: CallOptions, timeoutMs: number | undefined): CallSpec {
    return {
      pool,
      tool,
      args: toWireValue(args),
      ...(options.sessionId !== undefined ? { sessionId: options.sessionId } : {}),
      ...(options.affinity !== undefined ? { affinity: options.affinity } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(options.idempotent ? { idempotent: true } : {}),
      ...(options.idempotencyKey !== undefined ? { idempotencyKey: options.idempotencyKey } : {}),
    };
  }
}

function localPools(local: LocalRunner): readonly string[] {
  return local.poolNames;
}

function unavailable(pool: string, tried: ReadonlySet<string>): SnakepitError {
  return new SnakepitError("worker_unavailable", `No live node can take a call for pool "${pool}"${tried.size ? ` (tried ${[...tried].join(", ")})` : ""}`, {
    details: { pool, tried: [...tried] },
  });
}

/** The call's own signal: the caller's signal and its deadline, released when the call ends. */
function callScope(options: CallOptions): Disposable & { signal: AbortSignal; remainingMs(): number | undefined } {
  const ac = new AbortController();
  const onAbort = () => ac.abort(options.signal!.reason);
  if (options.signal?.aborted) ac.abort(options.signal.reason);
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  const deadline = options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) ? performance.now() + options.timeoutMs : undefined;
  const timer = deadline === undefined ? undefined : setTimeout(() => {
    ac.abort(new SnakepitError("deadline_exceeded", `The call did not finish within ${options.timeoutMs} ms`, { details: { timeoutMs: options.timeoutMs } }));
  }, options.timeoutMs);
  return {
    signal: ac.signal,
    remainingMs: () => (deadline === undefined ? undefined : Math.max(1, Math.round(deadline - performance.now()))),
    [Symbol.dispose]() {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    },
  };
}

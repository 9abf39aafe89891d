/** Pieces of the facade built from its parts: the tools API, session handles, figures, health. */

import { shmStats } from "../bridge/shm-lifecycle.ts";
import { SnakepitError } from "../errors.ts";
import type { Pool } from "../pool/pool.ts";
import type { PoolStatsSnapshot } from "../pool/stats.ts";
import type { SessionManager } from "../session/sessions.ts";
import type { ToolRegistry } from "../tools/registry.ts";
import type { CallOptions, SessionHandle, SnakepitStats, ToolsApi } from "./types.ts";

/** The `tools` API over the host tool registry and the pools' Python tools. */
export function createToolsApi(registry: ToolRegistry, sessions: SessionManager, pools: () => ReadonlyMap<string, Pool>, pool: (name: string) => Pool): ToolsApi {
  return {
    register: (name, definition, options) => {
      if (options?.sessionId !== undefined && !sessions.exists(options.sessionId)) {
        throw new SnakepitError("session_not_found", `No session "${options.sessionId}" to register host tool "${name}" for`, {
          details: { session: options.sessionId },
        });
      }
      return registry.register(name, definition, options);
    },
    list: (options = {}) => {
      const names = options.pool ? [pool(options.pool).name] : [...pools().keys()];
      return [
        ...names.flatMap((name) => pools().get(name)!.tools.map((t) => ({ ...t, pool: name }))),
        ...registry.list(options.sessionId),
      ];
    },
  };
}

/** What a session handle calls. */
interface Calls {
  execute<T>(tool: string, args: Record<string, unknown> | undefined, options: CallOptions): Promise<T>;
  stream<T>(tool: string, args: Record<string, unknown> | undefined, options: CallOptions): AsyncGenerator<T, void, undefined>;
  tools: ToolsApi;
}

export function sessionHandle(id: string, sessions: SessionManager, calls: Calls): SessionHandle {
  return {
    id,
    execute: (tool, args, opts) => calls.execute(tool, args, { ...opts, sessionId: id }),
    stream: (tool, args, opts) => calls.stream(tool, args, { ...opts, sessionId: id }),
    tools: { register: (name, definition) => calls.tools.register(name, definition, { sessionId: id }) },
    info: () => sessions.get(id),
    exists: () => sessions.exists(id),
    updateMetadata: (metadata) => void sessions.updateMetadata(id, metadata),
    stats: () => sessions.stats(id),
    close: () => sessions.delete(id),
  };
}

/** Figures of every pool, and their sums. */
export function totals(pools: ReadonlyMap<string, Pool>, sessions: number): SnakepitStats {
  const out: Record<string, PoolStatsSnapshot> = {};
  const total = { workers: 0, queued: 0, inFlight: 0, requests: 0, completed: 0, failed: 0 };
  for (const [name, pool] of pools) {
    const s = (out[name] = pool.snapshot());
    total.workers += s.workers;
    total.queued += s.queued;
    total.inFlight += s.inFlight;
    total.requests += s.requests;
    total.completed += s.completed;
    total.failed += s.failed;
  }
  return { pools: out, ...total, sessions, shm: shmStats() };
}

/** Pool health as /readyz reports it; reading it changes nothing. */
export interface HealthReport {
  ready: boolean;
  pools: Array<{ name: string; ready: number; healthy: boolean; recentCrashes: number; circuit: string }>;
}

export function healthOf(pools: Iterable<Pool>): HealthReport {
  const list = [...pools].map((p) => ({
    name: p.name,
    ready: p.workers.filter((w) => w.state === "ready").length,
    healthy: p.health.isHealthy,
    recentCrashes: p.health.recentCrashes,
    circuit: p.guard.breaker.state,
  }));
  return { ready: list.length > 0 && list.every((p) => p.ready > 0 && p.healthy), pools: list };
}

/** Recycle the worker `workerId` of whichever pool has it. */
export function recycleIn(pools: Iterable<Pool>, workerId: string): Promise<string> {
  const all = [...pools];
  const pool = all.find((p) => p.workers.some((w) => w.id === workerId));
  if (pool) {
    return pool.recycle(workerId).then((replacedBy) => {
      pool.bus.emit("worker.recycled", { pool: pool.name, worker: workerId, reason: "requested", replacedBy });
      return replacedBy;
    });
  }
  const ids = all.flatMap((p) => p.workers.map((w) => w.id)).join(", ");
  return Promise.reject(new SnakepitError("not_found", `No worker "${workerId}" (workers: ${ids})`, { details: { worker: workerId } }));
}

/** Plain views of pools and tools shared by the JSON routes and the Connect service. */

import type { Session } from "../session/store.ts";
import type { Pool } from "../pool/pool.ts";
import type { Snakepit } from "../snakepit.ts";

/** A pool as the API shows it. */
export interface PoolView {
  name: string;
  adapter: string;
  size: number;
  state: "open" | "drained";
  stats: Record<string, unknown>;
}

export function poolView(p: Pool): PoolView {
  return {
    name: p.name,
    adapter: p.config.adapter,
    size: p.config.poolSize,
    state: p.isDraining ? "drained" : "open",
    stats: p.snapshot() as unknown as Record<string, unknown>,
  };
}

export function listPools(pit: Snakepit): PoolView[] {
  return [...pit.pools.values()].map(poolView);
}

export function listTools(pit: Snakepit, pool?: string): Array<{ name: string; description: string; parameters: Record<string, unknown>; streaming: boolean; origin: string; pool?: string }> {
  return pit.tools.list(pool ? { pool } : {});
}

export function sessionView(s: Session): Record<string, unknown> {
  return {
    id: s.id,
    createdAt: new Date(s.createdAt).toISOString(),
    lastAccessedAt: new Date(s.lastAccessedAt).toISOString(),
    ttlMs: s.ttlMs,
    metadata: s.metadata,
    workers: s.workers,
    stats: { calls: s.stats.calls, errors: s.stats.errors },
  };
}

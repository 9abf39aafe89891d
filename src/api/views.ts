/** Plain views of pools and tools shared by the JSON routes and the Connect service. */

import type { Session } from "../session/store.ts";
import type { Snakepit } from "../snakepit.ts";

export function listPools(pit: Snakepit): Array<{ name: string; adapter: string; size: number; stats: Record<string, unknown> }> {
  return [...pit.pools.values()].map((p) => ({
    name: p.name,
    adapter: p.config.adapter,
    size: p.config.poolSize,
    stats: p.snapshot() as unknown as Record<string, unknown>,
  }));
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

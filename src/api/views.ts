/** Plain views of pools and tools shared by the JSON routes and the Connect service. */

import type { Snakepit } from "../snakepit.ts";

export function listPools(pit: Snakepit): Array<{ name: string; adapter: string; size: number; stats: Record<string, unknown> }> {
  return [...pit.pools.values()].map((p) => ({
    name: p.name,
    adapter: p.config.adapter,
    size: p.config.poolSize,
    stats: p.snapshot() as unknown as Record<string, unknown>,
  }));
}

export function listTools(pit: Snakepit, pool?: string): Array<{ name: string; description: string; parameters: Record<string, unknown>; streaming: boolean; origin: string; pool: string }> {
  const names = pool ? [pool] : pit.poolNames;
  return names.flatMap((name) => pit.tools(name).map((t) => ({ ...t, pool: name })));
}

/** Turn user input into validated pool configs, with errors that name the field and source. */

import { z } from "zod";
import { SnakepitError } from "../errors.ts";
import { type PoolConfig, PoolConfigSchema, type PoolConfigInput } from "./schema.ts";

/** What `Snakepit.start()` accepts: one pool inline, or `pools` (inline fields are their defaults). */
export type SnakepitOptions = Partial<PoolConfigInput> & {
  pools?: Array<Partial<PoolConfigInput> & { name: string }>;
};

function describe(error: z.ZodError, source: string, prefix: string): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
      return `${source}: ${path || "(root)"}: ${issue.message}`;
    })
    .join("; ");
}

/** Validate options into one config per pool. Throws `config_invalid` naming each bad field. */
export function parseConfig(input: SnakepitOptions, source = "config"): PoolConfig[] {
  if (typeof input !== "object" || input === null) {
    throw new SnakepitError("config_invalid", `${source}: expected an object`);
  }
  const { pools, ...defaults } = input;
  const entries = pools && pools.length > 0
    ? pools.map((pool, i) => ({ raw: { ...defaults, ...pool }, prefix: `pools[${i}]` }))
    : [{ raw: defaults, prefix: "" }];
  const out: PoolConfig[] = [];
  const problems: string[] = [];
  for (const { raw, prefix } of entries) {
    const parsed = PoolConfigSchema.safeParse(raw);
    if (parsed.success) out.push(parsed.data);
    else problems.push(describe(parsed.error, source, prefix));
  }
  if (problems.length) {
    throw new SnakepitError("config_invalid", `Invalid configuration: ${problems.join("; ")}`, { details: { source } });
  }
  const names = new Set<string>();
  for (const pool of out) {
    if (names.has(pool.name)) throw new SnakepitError("config_invalid", `${source}: two pools are named "${pool.name}"`);
    names.add(pool.name);
  }
  return out;
}

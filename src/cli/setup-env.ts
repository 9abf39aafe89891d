/** `snakepit setup`'s managed-environment step: each pool's venv from its `requirements`. */

import type { PoolConfig } from "../config/schema.ts";
import { SnakepitError } from "../errors.ts";
import { ensurePoolEnv } from "../python-env/prepare.ts";
import type { EnvFlags } from "./setup.ts";

/** parseArgs options of the step. */
export const SETUP_ENV_FLAGS = {
  config: { type: "string", short: "c" },
  requirements: { type: "string", short: "r" },
  "index-url": { type: "string" },
  "find-links": { type: "string", multiple: true },
  "no-index": { type: "boolean" },
} as const;

/** Pools with the command line's requirements and install options applied. */
export function withEnvFlags(pools: PoolConfig[], flags: EnvFlags): PoolConfig[] {
  return pools.map((p) => ({
    ...p,
    requirements: flags.requirements ?? p.requirements,
    install: {
      ...p.install,
      indexUrl: flags.indexUrl ?? p.install.indexUrl,
      findLinks: flags.findLinks?.length ? flags.findLinks : p.install.findLinks,
      noIndex: flags.noIndex ?? p.install.noIndex,
    },
  }));
}

/** The lines `setup --requirements ...` adds to a new snakepit.toml (top-level keys, then [install]). */
export function envToml(flags: EnvFlags): string {
  const install = [
    flags.indexUrl ? `index_url = ${JSON.stringify(flags.indexUrl)}` : "",
    flags.findLinks?.length ? `find_links = ${JSON.stringify(flags.findLinks)}` : "",
    flags.noIndex ? "no_index = true" : "",
  ].filter(Boolean);
  return `requirements = ${JSON.stringify(flags.requirements)}\n${install.length ? `\n[install]\n${install.join("\n")}\n` : ""}`;
}

/** Make or update every pool's venv, printing one line each; false when one failed. */
export async function setUpEnvironments(pools: PoolConfig[], env: Record<string, string>): Promise<boolean> {
  let ok = true;
  const done = new Map<string, string>();
  for (const pool of pools) {
    if (!pool.requirements) continue;
    try {
      const t0 = performance.now();
      const r = (await ensurePoolEnv(pool, env))!;
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      if (done.has(r.dir)) continue;
      done.set(r.dir, pool.name);
      const what = r.action === "unchanged" ? "up to date (lock matches; nothing to do)" : `${r.action} with ${r.installer} in ${secs} s`;
      console.log(`✓ venv (${pool.name}): ${r.dir}: ${what}; ${Object.keys(r.lock.packages).length} package(s) locked`);
    } catch (err) {
      ok = false;
      console.log(`✗ venv (${pool.name}): ${SnakepitError.from(err).message}`);
      console.log("    fix: check the requirements file and the install options (--index-url, --find-links DIR --no-index for offline hosts)");
    }
  }
  return ok;
}

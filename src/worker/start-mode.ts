/**
 * How a pool's workers start (config `startMode`, `preload`). By default (`auto`) they are forked
 * from a template that imported only the bridge, where forking works (Bun on Linux, no
 * `pythonArgs`): eight workers then share one interpreter start-up. Elsewhere, or if the template
 * cannot start, they are spawned, each its own interpreter, and the reason is reported.
 * `preload` (named modules, the adapter's `preload()`) and `startMode: "fork"` require the fork.
 */

import { SnakepitError } from "../errors.ts";
import { type ThreadSettings, threadEnv } from "../hardware/threads.ts";
import { type ChildProcess, runtimeName, spawnChild, type SpawnOptions } from "../runtime/process.ts";
import { ForkServer, type PreloadOptions } from "./fork-server.ts";

export type { PreloadOptions };

/** A pool's template: started on the first fork, started again if it died, closed with the pool. */
export interface Preload {
  spawn(cmd: string[], options: SpawnOptions): Promise<ChildProcess>;
  close(): Promise<void>;
  /** The live template's pid: a process of the run beside the workers (undefined while there is none). */
  readonly pid: number | undefined;
}

/** What `createPreload` reads of a pool's config. */
export type StartConfig = {
  name: string;
  adapter: string;
  env: Record<string, string>;
  cwd?: string | undefined;
  pythonArgs: string[];
  preload?: PreloadOptions | undefined;
  startMode?: "auto" | "fork" | "spawn" | undefined;
} & ThreadSettings;

/** What every template of a Snakepit shares. */
export interface PreloadDeps {
  python: string;
  bridgeDir: string;
  env: Record<string, string>;
  runId: string;
  instance: string;
  /** `auto` could not fork: workers are spawned instead, for this reason. */
  onSpawnFallback?: ((reason: string) => void) | undefined;
}

function refuse(config: StartConfig, field: string, message: string): never {
  throw new SnakepitError("config_invalid", `Pool "${config.name}": ${message}`, { details: { field } });
}

/**
 * The template of a pool whose workers are forked, else undefined (they are spawned). Settings
 * that cannot work are refused here, at start-up, as config errors; the template itself starts
 * with the first worker.
 */
export function createPreload(config: StartConfig, deps: PreloadDeps): Preload | undefined {
  const mode = config.startMode ?? "auto";
  const strict = config.preload !== undefined || mode === "fork";
  const field = config.preload ? "preload" : "startMode";
  if (mode === "spawn") {
    if (config.preload) refuse(config, "preload", "preload forks workers from a template, and startMode is \"spawn\"; drop one of them");
    return undefined;
  }
  if (runtimeName !== "bun" || process.platform !== "linux") {
    if (!strict) return undefined;
    refuse(config, field, `${field} forks workers from a template, which needs Bun on Linux (this is ${runtimeName} on ${process.platform})`);
  }
  if (config.pythonArgs.length) {
    if (!strict) return undefined;
    refuse(config, field, `${field} cannot apply pythonArgs (${config.pythonArgs.join(" ")}) to forked workers; drop one of them`);
  }
  const preload = config.preload ?? { modules: [] };
  // Thread limits must hold before the template imports numpy or torch: their pools size at import.
  const env = { ...deps.env, ...config.env, ...threadEnv(config) };
  env.PYTHONPATH = [deps.bridgeDir, env.PYTHONPATH].filter(Boolean).join(":");
  // Its environment marks it (and the workers it forks: /proc shows the environment they were
  // exec'd with) as this run's, so the sweep after a dead host finds it even if it was stopped.
  env.SNAKEPIT_RUN_ID = deps.runId;
  let server: Promise<ForkServer> | undefined;
  let live: ForkServer | undefined;
  let spawnInstead = false;
  let closed = false;
  const template = () => {
    if (!server) {
      server = ForkServer.start(deps.python, { ...preload, adapterSpec: config.adapter, runId: deps.runId, pool: config.name, instance: deps.instance, spawn: { env, cwd: config.cwd } });
      server.then((s) => void (live = s), () => (server = undefined)); // after a failure, the next worker tries again
    }
    return server;
  };
  const fork = async (cmd: string[], options: SpawnOptions) => {
    const s = await template();
    if (s.isClosed) server = undefined; // it died: a new one for this worker and the next
    return await (s.isClosed ? await template() : s).spawn(cmd, options);
  };
  return {
    async spawn(cmd, options) {
      if (closed) throw new SnakepitError("pool_closed", `Pool "${config.name}" is closed`);
      if (spawnInstead) return spawnChild(cmd, options);
      try {
        return await fork(cmd, options);
      } catch (err) {
        if (strict || !(err instanceof SnakepitError) || err.code !== "worker_spawn_failed" || closed) throw err;
        if (!spawnInstead) deps.onSpawnFallback?.(err.message);
        spawnInstead = true;
        return spawnChild(cmd, options);
      }
    },
    async close() {
      closed = true;
      const s = await server?.catch(() => undefined);
      await s?.close();
    },
    get pid() {
      return live && !live.isClosed ? live.pid : undefined;
    },
  };
}

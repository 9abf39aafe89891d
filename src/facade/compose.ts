/** Parts of the composition root: the process registry and the pools with their local workers. */

import type { PoolConfig } from "../config/schema.ts";
import type { HostHandlers } from "../bridge/messages.ts";
import { SnakepitError } from "../errors.ts";
import { Pool, type PoolDeps } from "../pool/pool.ts";
import { localProcessFactory } from "../pool/worker-factory.ts";
import { shmWorkerEnv } from "../bridge/shm.ts";
import { createPreload } from "../worker/start-mode.ts";
import { checkThreadSafety, preparePool } from "../python-env/prepare.ts";
import { ProcessRegistry } from "../registry/process-registry.ts";
import type { EventBus } from "../telemetry/bus.ts";

/**
 * Start every pool and, meanwhile, the GPU profiler (its hardware detection spawns vendor tools:
 * 5-20 ms that need not wait for the workers). A profiler whose pools fail to start is stopped.
 */
export async function startPools<P extends { stop(): Promise<void> }>(pools: Iterable<Pool>, checks: Array<Promise<void>>, profiler: () => Promise<P | undefined>): Promise<P | undefined> {
  const started = profiler();
  started.catch(() => {}); // awaited below; not an unhandled rejection while the pools start
  try {
    await Promise.all([...[...pools].map((p) => p.start()), ...checks]);
  } catch (err) {
    void started.then((p) => p?.stop(), () => {});
    // An unfit interpreter explains a worker's failure better than the failure does.
    const unfit = (await Promise.allSettled(checks)).find((r): r is PromiseRejectedResult => r.status === "rejected");
    throw unfit ? unfit.reason : err;
  }
  return await started;
}

/** The registry of this run's worker pids; a bad instance name is a config error. */
export function openProcessRegistry(stateDir: string, instance: string, runId: string): ProcessRegistry {
  try {
    return new ProcessRegistry(stateDir, instance, runId);
  } catch (err) {
    throw new SnakepitError("config_invalid", (err as Error).message, { details: { field: "instance" } });
  }
}

/** What every pool of a Snakepit shares. */
export interface PoolsDeps {
  runId: string;
  instance: string;
  bus: EventBus;
  env: Record<string, string>;
  bridgeDir: string;
  host: (pool: string, worker: string) => HostHandlers;
  rehydrate: PoolDeps["rehydrate"];
}

/**
 * Build (not start) a pool per config into `into`: the interpreter prepared (a managed venv when
 * asked), local-process workers. Returns the thread-safety checks running in the background.
 */
export async function buildPools(configs: readonly PoolConfig[], deps: PoolsDeps, into: Map<string, Pool>): Promise<Array<Promise<void>>> {
  const { runId, instance, bus, env, bridgeDir, host, rehydrate } = deps;
  const checks: Array<Promise<void>> = [];
  for (const input of configs) {
    const { python, checked, config } = await preparePool(input, { bus, bridgeDir, env });
    checks.push(checked);
    checks.push(checkThreadSafety(config, python, { bus, bridgeDir, env }));
    const onSpawnFallback = (reason: string) => bus.emit("pool.spawn_fallback", { pool: config.name, reason });
    // The template gets the workers' environment but for what differs per worker: bridge modules
    // it imports read some of it (shared memory) once, at import.
    const workerEnv = { ...env, ...shmWorkerEnv() };
    const preload = createPreload(config, { python, bridgeDir, env: workerEnv, runId, instance, onSpawnFallback });
    const createWorker = localProcessFactory({ runId, instance, python, bridgeDir, env: workerEnv, host, spawn: preload?.spawn });
    into.set(config.name, new Pool(config, { runId, bus, createWorker, rehydrate, onClosed: preload && (() => preload.close()), templatePid: preload && (() => preload.pid) }));
  }
  return checks;
}

/** How a pool gets its workers: the seam's factory, and the local-process one. */

import type { HostHandlers } from "../bridge/messages.ts";
import type { PoolConfig } from "../config/schema.ts";
import type { Clock } from "../core/clock.ts";
import { workerEnv } from "../hardware/worker-env.ts";
import type { WorkerHooks, WorkerLink } from "../worker/link.ts";
import type { WorkerSpec } from "../worker/handshake.ts";
import { LocalProcessWorker } from "../worker/local-process-worker.ts";

/** What a pool asks for when it needs a worker. */
export interface WorkerRequest {
  id: string;
  pool: PoolConfig;
  device: string | undefined;
  hooks: WorkerHooks;
  clock: Clock;
}

/** Makes a (not yet started) worker. */
export type WorkerFactory = (request: WorkerRequest) => WorkerLink;

/** What local Python workers of a Snakepit share. */
export interface LocalWorkerDeps {
  runId: string;
  instance: string;
  python: string;
  bridgeDir: string;
  env: Record<string, string>;
  /** The handlers of requests a worker sends the host (host tools, telemetry). */
  host: (pool: string, worker: string) => HostHandlers;
  /** Fork workers from a preloaded template instead of spawning them (config `preload`). */
  spawn?: WorkerSpec["spawn"];
}

/** Workers that are local Python processes. */
export function localProcessFactory(deps: LocalWorkerDeps): WorkerFactory {
  return ({ id, pool: c, device, hooks, clock }) => new LocalProcessWorker(
    {
      id,
      python: deps.python,
      adapter: c.adapter,
      bridgeDir: deps.bridgeDir,
      env: { ...deps.env, ...c.env, ...workerEnv(c, device), SNAKEPIT_RUN_ID: deps.runId, SNAKEPIT_POOL: c.name, SNAKEPIT_WORKER_ID: id },
      cwd: c.cwd,
      pythonArgs: c.pythonArgs,
      capacity: c.workerProfile === "thread" ? c.threadsPerWorker : 1,
      runId: deps.runId,
      instance: deps.instance,
      device,
      heartbeat: c.heartbeat,
      startupTimeoutMs: c.startupTimeoutMs,
      cancelGraceMs: c.cancelGraceMs,
      logLevel: c.logLevel,
      spawn: deps.spawn,
    },
    { ...hooks, host: deps.host(c.name, id) },
    clock,
  );
}

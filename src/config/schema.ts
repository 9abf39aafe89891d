/**
 * Configuration schemas (zod): parsed once, at the edge. Every field carries its description
 * and default here, and docs/configuration.md is generated from these schemas.
 */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { ApiLimitsSchema } from "./api-limits.ts";
import { LifecycleSchema } from "../resilience/lifecycle.ts";
import { CircuitBreakerSchema } from "../resilience/circuit-breaker.ts";
import { CrashBarrierSchema } from "../resilience/crash.ts";
import { HealthSchema } from "../resilience/health.ts";
import { RetryPolicySchema } from "../resilience/retry.ts";
import { HeartbeatSchema } from "../worker/heartbeat.ts";
import { TIMEOUT_PROFILES } from "./profiles.ts";
import { AFFINITY_MODES } from "../session/affinity.ts";
import { InstallSchema } from "./install.ts";

const profileNames = Object.keys(TIMEOUT_PROFILES) as [keyof typeof TIMEOUT_PROFILES, ...(keyof typeof TIMEOUT_PROFILES)[]];
const ms = z.number().int().nonnegative().max(MAX_TIMER_MS);
const msOrInfinite = z.union([ms, z.literal(Infinity)]);

/** One pool of workers running one adapter. */
export const PoolConfigSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, "use letters, digits, _ . -").default("default")
    .describe("Pool name, used as `pool` in calls"),
  adapter: z.string().min(1, "name a Python file or module")
    .describe("Adapter: `path/to/file.py[:Class]` or `package.module[:Class]`"),
  poolSize: z.number().int().min(1).max(150).default(2).describe("Number of worker processes"),
  python: z.string().min(1).optional()
    .describe("Python interpreter, resolved once to its real executable (default: $SNAKEPIT_PYTHON, else python3)"),
  pythonArgs: z.array(z.string()).default([]).describe("Extra interpreter arguments, before `-m snakepit_bridge`"),
  env: z.record(z.string(), z.string()).default({}).describe("Extra environment variables for the workers"),
  cwd: z.string().optional().describe("Working directory of the workers (default: the host's)"),
  workerProfile: z.enum(["process", "thread"]).default("process")
    .describe("`process`: one call at a time per worker; `thread`: `threadsPerWorker` concurrent calls"),
  threadsPerWorker: z.number().int().min(1).max(256).default(10).describe("Concurrent calls per worker under the thread profile"),
  startupBatchSize: z.number().int().min(1).default(10).describe("Workers started together"),
  startupBatchDelayMs: ms.default(500).describe("Pause between start-up batches"),
  startupTimeoutMs: ms.min(1).default(30_000).describe("Time a worker has to import the adapter, run `setup()` and say it is ready"),
  maxQueue: z.number().int().nonnegative().max(1_000_000).default(1_000).describe("Calls that may wait for a worker before `pool_saturated`"),
  prefetch: z.number().int().min(0).max(1_024).default(32)
    .describe("Extra short calls a busy worker may hold in its pipe when every worker is busy (0 = off)"),
  prefetchMaxServiceMs: z.number().nonnegative().default(1)
    .describe("Only workers whose recent calls average under this get prefetched calls"),
  affinity: z.enum(AFFINITY_MODES).default("hint")
    .describe("Session affinity: `hint` prefers the session's worker; `strict_queue` waits for it; `strict_fail_fast` fails with `worker_busy`"),
  timeoutProfile: z.enum(profileNames).default("balanced").describe("Named timeout profile (see the table below)"),
  executeTimeoutMs: msOrInfinite.optional().describe("Budget of `execute` calls (default: from the profile)"),
  streamTimeoutMs: msOrInfinite.optional().describe("Budget of streams (default: from the profile)"),
  queueTimeoutMs: msOrInfinite.optional().describe("Longest wait for a free worker (default: from the profile)"),
  streamStallTimeoutMs: ms.min(1).default(30_000)
    .describe("A stream whose consumer reads nothing for this long is cancelled and its worker freed"),
  cancelGraceMs: ms.default(2_000).describe("Time a cancelled call has to stop before its worker is recycled"),
  shutdownGraceMs: ms.default(6_000).describe("Time in-flight calls get at shutdown before SIGTERM, then SIGKILL"),
  logLevel: z.enum(["debug", "info", "warning", "error"]).default("warning").describe("Level of the Python bridge's own log"),
  devices: z.union([z.array(z.string().min(1)), z.enum(["auto", "cpu"])]).default([])
    .describe("Devices for workers, spread evenly: `auto` (every GPU of the best kind, else CPU), `cpu`, kinds in fallback order (`[\"cuda\", \"cpu\"]`) or ids (`cuda:0`); sets SNAKEPIT_DEVICE and CUDA/HIP_VISIBLE_DEVICES"),
  mathThreads: z.number().int().min(1).max(1_024).optional()
    .describe("Threads for each worker's math libraries (OMP/OPENBLAS/MKL/NUMEXPR_NUM_THREADS, VECLIB_MAXIMUM_THREADS); default 1 under the process profile, cores / poolSize (at most threadsPerWorker) under the thread profile"),
  threadSafetyChecks: z.boolean().default(true).describe("Thread profile: warn at start when the adapter imports a library the compatibility matrix marks unsafe under threads"),
  gpuSampleIntervalMs: z.number().int().nonnegative().max(MAX_TIMER_MS).default(5_000).describe("GPU memory/utilization sampling interval (0 = off; never runs without a GPU)"),
  requirements: z.string().min(1).optional().describe("requirements.txt or pyproject.toml: `snakepit setup` installs it into a venv the workers run in"),
  venv: z.string().min(1).optional().describe("Folder of the managed venv (default: `.snakepit/venv` next to `requirements`)"),
  install: InstallSchema.default(InstallSchema.parse({})),
  reconcileIntervalMs: z.number().int().positive().max(MAX_TIMER_MS).default(1_000).describe("How often the pool restores missing workers"),
  maxRestarts: z.number().int().min(1).default(10).describe("Worker restarts allowed per `restartWindowMs` before pausing (crash storms)"),
  restartWindowMs: z.number().int().positive().max(MAX_TIMER_MS).default(10_000).describe("Window for `maxRestarts`"),
  heartbeat: HeartbeatSchema.default(HeartbeatSchema.parse({})),
  crashBarrier: CrashBarrierSchema.default(CrashBarrierSchema.parse({})),
  retry: RetryPolicySchema.default(RetryPolicySchema.parse({})),
  circuitBreaker: CircuitBreakerSchema.default(CircuitBreakerSchema.parse({})),
  health: HealthSchema.default(HealthSchema.parse({})),
  lifecycle: LifecycleSchema.default(LifecycleSchema.parse({})),
  preload: z.object({
    modules: z.array(z.string().regex(/^[A-Za-z_][\w.]*$/, "a module name such as torch or numpy")).default([]).describe("Modules a template process imports once"),
    adapter: z.boolean().default(false).describe("Also import the adapter's module in the template and call its `preload()`"),
  }).strict().optional().describe("Fork workers (and replacements) from a template that preloaded these (Bun on Linux; see docs/preload.md)"),
  startMode: z.enum(["auto", "fork", "spawn"]).default("auto")
    .describe("How workers start: `auto` forks them from a template that imported only the bridge where that works (Bun on Linux, no `pythonArgs`) and spawns them otherwise or if the template cannot start (logged); `fork` requires the template; `spawn` starts each worker as its own interpreter (see docs/preload.md)"),
}).strict();

/** The HTTP server of `snakepit serve`. */
export const ServerConfigSchema = z.object({
  host: z.string().min(1).default("127.0.0.1").describe("Address to bind; anything but loopback needs a token"),
  port: z.number().int().min(0).max(65_535).default(7117).describe("Port to bind; 0 picks a free one"),
  token: z.string().min(8, "use at least 8 characters").optional().describe("Bearer token required on every route but health checks"),
  tokenFile: z.string().min(1).optional().describe("File (or pipe) holding the token: the recommended way, kept out of process lists"),
  grpcPort: z.number().int().min(0).max(65_535).optional().describe("Also serve ControlService over gRPC (HTTP/2) on this port, same host and token; 0 picks a free one"),
  allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, "an origin is scheme://host[:port], e.g. http://localhost:3000")).max(64).default([]).describe("Browser pages (origins) allowed to call without a token; default none"),
  limits: ApiLimitsSchema.default(ApiLimitsSchema.parse({})).describe("Edge limits of the HTTP and gRPC APIs"),
  maxBodyBytes: z.number().int().positive().max(MAX_TIMER_MS).default(16 * 1024 * 1024).describe("Largest request body accepted"),
  shutdownGraceMs: ms.default(6_000).describe("On SIGINT/SIGTERM: time in-flight calls get to finish"),
}).strict();

export type PoolConfig = z.output<typeof PoolConfigSchema>;
export type PoolConfigInput = z.input<typeof PoolConfigSchema>;
export type ServerConfig = z.output<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;

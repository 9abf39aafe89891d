/** Configuration schemas (zod): parsed once, at the edge; every field documents its default. */

import { z } from "zod";
import { TIMEOUT_PROFILES } from "./profiles.ts";

const profileNames = Object.keys(TIMEOUT_PROFILES) as [keyof typeof TIMEOUT_PROFILES, ...(keyof typeof TIMEOUT_PROFILES)[]];
const ms = z.number().int().nonnegative();
const msOrInfinite = z.union([ms, z.literal(Infinity)]);

/** One pool of workers running one adapter. */
export const PoolConfigSchema = z.object({
  /** Pool name, used in `execute(..., { pool })`. */
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, "use letters, digits, _ . -").default("default"),
  /** Adapter: `path/to/file.py[:Class]` or `package.module[:Class]`. */
  adapter: z.string().min(1, "name a Python file or module"),
  /** Number of worker processes. */
  poolSize: z.number().int().min(1).max(150).default(2),
  /** Interpreter; resolved once to its real executable. Default: $SNAKEPIT_PYTHON, else python3. */
  python: z.string().min(1).optional(),
  /** Extra interpreter arguments (before `-m snakepit_bridge`). */
  pythonArgs: z.array(z.string()).default([]),
  /** Extra environment for the workers. */
  env: z.record(z.string(), z.string()).default({}),
  /** Working directory of the workers. */
  cwd: z.string().optional(),
  /** "process": one call at a time per worker; "thread": `threadsPerWorker` concurrent calls. */
  workerProfile: z.enum(["process", "thread"]).default("process"),
  /** Concurrent calls per worker under the thread profile. */
  threadsPerWorker: z.number().int().min(1).max(256).default(10),
  /** Workers started together; the next batch waits `startupBatchDelayMs`. */
  startupBatchSize: z.number().int().min(1).default(10),
  startupBatchDelayMs: ms.default(500),
  /** Time a worker has to import the adapter, run `setup()` and say it is ready. */
  startupTimeoutMs: ms.min(1).default(30_000),
  /** Calls waiting for a worker before `pool_saturated`. */
  maxQueue: z.number().int().nonnegative().default(1_000),
  /** Named timeout profile; the three timeouts below override it. */
  timeoutProfile: z.enum(profileNames).default("balanced"),
  executeTimeoutMs: msOrInfinite.optional(),
  streamTimeoutMs: msOrInfinite.optional(),
  queueTimeoutMs: msOrInfinite.optional(),
  /**
   * Extra calls a busy worker may hold in its pipe when every worker is busy, so short calls
   * flow without a round trip between them. Only workers whose recent calls average under
   * `prefetchMaxServiceMs` get them; 0 turns prefetching off.
   */
  prefetch: z.number().int().min(0).max(1_024).default(16),
  prefetchMaxServiceMs: z.number().nonnegative().default(1),
  /** Time a cancelled call has to stop before its worker is recycled. */
  cancelGraceMs: ms.default(2_000),
  /** Time workers get to finish in-flight calls at shutdown, before SIGTERM then SIGKILL. */
  shutdownGraceMs: ms.default(6_000),
  /** Python log level for the bridge's own logger. */
  logLevel: z.enum(["debug", "info", "warning", "error"]).default("warning"),
}).strict();

/** Top-level configuration: one pool inline, or several under `pools`. */
export const SnakepitConfigSchema = z.object({
  /** Several pools; when given, the inline pool fields are defaults for each. */
  pools: z.array(PoolConfigSchema.partial().extend({ name: z.string().min(1) })).optional(),
}).catchall(z.unknown());

export type PoolConfig = z.output<typeof PoolConfigSchema>;
export type PoolConfigInput = z.input<typeof PoolConfigSchema>;

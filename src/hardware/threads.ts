/**
 * Thread limits for the math libraries in a worker, so N workers do not each start a thread per
 * core: 1 under the process profile; under the thread profile, the worker's share of the cores
 * (cores / poolSize), never more than threadsPerWorker. A pool's `env` or `mathThreads` wins.
 */

import { availableParallelism } from "node:os";

/** The variables OpenMP, OpenBLAS, MKL, NumExpr and Apple's vecLib read. */
export const THREAD_VARS = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"] as const;

/** The pool settings the limits depend on. */
export interface ThreadSettings {
  workerProfile: "process" | "thread";
  threadsPerWorker: number;
  poolSize: number;
  mathThreads?: number | undefined;
  env: Record<string, string>;
}

/** Threads each worker's math libraries get. */
export function mathThreads(c: ThreadSettings, cores: number = availableParallelism()): number {
  if (c.mathThreads !== undefined) return c.mathThreads;
  if (c.workerProfile === "process") return 1;
  return Math.max(1, Math.min(c.threadsPerWorker, Math.floor(cores / Math.max(1, c.poolSize))));
}

/** The five variables as a worker gets them (a value in the pool's `env` is kept as configured). */
export function threadEnv(c: ThreadSettings, cores?: number): Record<string, string> {
  const n = String(mathThreads(c, cores));
  return Object.fromEntries(THREAD_VARS.map((name) => [name, c.env[name] ?? n]));
}

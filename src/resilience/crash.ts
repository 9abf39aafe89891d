/** Crash classification and the crash barrier's settings. */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";
import type { ExitStatus } from "../runtime/process.ts";

export const CrashBarrierSchema = z.object({
  enabled: z.boolean().default(true).describe("Classify crashes, taint the device, retry idempotent calls"),
  taintMs: z.number().int().nonnegative().max(MAX_TIMER_MS).default(60_000).describe("How long a crashed worker's device is avoided"),
  maxRetries: z.number().int().nonnegative().max(MAX_TIMER_MS).default(1).describe("Retries of an idempotent call whose worker crashed"),
  backoffMs: z.array(z.number().int().nonnegative().max(MAX_TIMER_MS)).default([50, 100, 200]).describe("Wait before each such retry"),
}).strict();
export type CrashBarrierConfig = z.output<typeof CrashBarrierSchema>;

/** Why a worker process ended without being asked to. */
export type CrashKind = "exit" | "signal" | "oom" | "heartbeat_timeout" | "cancel_timeout" | "memory_limit" | "protocol_error";

/** A crash, as errors and events report it. */
export interface CrashInfo {
  kind: CrashKind;
  exitCode: number | null;
  signal: string | null;
  /** It was running calls when it died: that call's tool is suspect, not the adapter's start (see Supervisor). */
  duringCall?: boolean;
  /** Why the exit code and signal are unknown, when they are (then `kind` is the likeliest one). */
  statusNote?: string | undefined;
}

/**
 * Classify an exit. `killedFor` is why we killed it ourselves, if we did; an unasked SIGKILL
 * while the cgroup's OOM-kill count rose is an out-of-memory kill. An unknown status (a forked
 * worker that outlived its template and did not exit through Python) is classified as a signal,
 * or as an out-of-memory kill if the count rose, and keeps its note.
 */
export function classifyCrash(status: ExitStatus, killedFor: CrashKind | undefined, oomKillsRose: boolean): CrashInfo {
  const unknown = status.statusNote !== undefined && status.exitCode === null && status.signal === null;
  const killed = status.signal === "SIGKILL" || unknown;
  const kind: CrashKind = killedFor ?? (killed && oomKillsRose ? "oom" : status.signal || unknown ? "signal" : "exit");
  return { kind, exitCode: status.exitCode, signal: status.signal, ...(unknown ? { statusNote: status.statusNote } : {}) };
}

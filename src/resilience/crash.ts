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
}

/**
 * Classify an exit. `killedFor` is why we killed it ourselves, if we did; an unasked SIGKILL
 * while the cgroup's OOM-kill count rose is an out-of-memory kill.
 */
export function classifyCrash(status: ExitStatus, killedFor: CrashKind | undefined, oomKillsRose: boolean): CrashInfo {
  const kind: CrashKind = killedFor ?? (status.signal === "SIGKILL" && oomKillsRose ? "oom" : status.signal ? "signal" : "exit");
  return { kind, exitCode: status.exitCode, signal: status.signal };
}

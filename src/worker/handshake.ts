/** Starting a local worker: its command line, and waiting for its Ready handshake. */

import { PROTOCOL_VERSION } from "../bridge/messages.ts";
import { abortError, SnakepitError } from "../errors.ts";
import type { ChildProcess, ExitStatus, SpawnOptions } from "../runtime/process.ts";
import type { HeartbeatConfig } from "./heartbeat.ts";
import { loadFailureCause } from "./load-error.ts";

/** How to start one local worker. */
export interface WorkerSpec {
  id: string;
  python: string;
  adapter: string;
  bridgeDir: string;
  env: Record<string, string>;
  cwd?: string | undefined;
  /** Extra interpreter arguments, before `-m snakepit_bridge`. */
  pythonArgs?: string[];
  /** Concurrent calls the worker runs. @default 1 */
  capacity?: number;
  runId: string;
  /** Host instance name (on the command line, for process listings). */
  instance?: string;
  startupTimeoutMs: number;
  heartbeat?: HeartbeatConfig;
  /** Device given to this worker, if any. */
  device?: string | undefined;
  /** Time a cancelled call gets to stop before the worker is recycled. @default 2000 */
  cancelGraceMs?: number;
  logLevel?: string;
  /** How to start the process (preloaded pools fork it from a template). @default spawnChild */
  spawn?: ((cmd: string[], options: SpawnOptions) => Promise<ChildProcess>) | undefined;
}

/** The worker's command line. */
export function workerCommand(spec: WorkerSpec, capacity: number): string[] {
  const cmd = [
    spec.python, ...(spec.pythonArgs ?? []), "-m", "snakepit_bridge",
    "--adapter", spec.adapter, "--worker-id", spec.id, "--run-id", spec.runId, "--capacity", String(capacity),
  ];
  if (spec.logLevel) cmd.push("--log-level", spec.logLevel);
  if (spec.instance) cmd.push("--instance", spec.instance);
  const hb = spec.heartbeat;
  if (hb?.enabled) cmd.push("--host-timeout-ms", String(hb.timeoutMs * hb.maxMissed + hb.intervalMs));
  return cmd;
}

/** Undefined when the worker speaks our protocol version, else the error that refuses it. */
export function checkProtocol(worker: string, version: number | undefined): SnakepitError | undefined {
  if (version === PROTOCOL_VERSION) return undefined;
  return new SnakepitError(
    "worker_spawn_failed",
    `Cannot start worker "${worker}": it speaks protocol version ${version ?? "(none)"}, this host speaks version ${PROTOCOL_VERSION}; install matching snakepit and snakepit_bridge versions`,
    { details: { worker, workerProtocolVersion: version ?? null, hostProtocolVersion: PROTOCOL_VERSION } },
  );
}

/** Wait for `ready`; fail on timeout, on exit before it, or when `signal` fires. */
export async function awaitHandshake(o: {
  id: string;
  ready: Promise<void>;
  exited: Promise<ExitStatus>;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  lastOutput: (lines: number) => string;
}): Promise<void> {
  const suffix = (lines: number) => {
    const out = o.lastOutput(lines);
    return out ? `; last output:\n${out}` : "";
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onStopAbort: (() => void) | undefined;
  const failed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new SnakepitError("worker_spawn_failed", `Cannot start worker "${o.id}": not ready within ${o.timeoutMs} ms${suffix(12)}`, {
        details: { worker: o.id, timeoutMs: o.timeoutMs, lastOutput: o.lastOutput(20) },
      }));
    }, o.timeoutMs);
    o.exited.then((status) => {
      // The cause first (SyntaxError at file:line, a missing module or class), then the output.
      const cause = loadFailureCause(o.lastOutput(30));
      reject(new SnakepitError("worker_spawn_failed", `${cause ? `${cause}\n` : ""}Cannot start worker "${o.id}": python ${describeExit(status)} before it was ready${suffix(30)}`, {
        details: { worker: o.id, ...status, lastOutput: o.lastOutput(20), ...(cause ? { cause } : {}) },
      }));
    });
    onStopAbort = () => reject(abortError(o.signal!));
    o.signal?.addEventListener("abort", onStopAbort, { once: true });
  });
  try {
    await Promise.race([o.ready, failed]);
  } finally {
    clearTimeout(timer);
    if (onStopAbort) o.signal?.removeEventListener("abort", onStopAbort);
  }
}

/** "exited with code 1" / "was killed by SIGKILL". */
export function describeExit(status: ExitStatus): string {
  if (status.signal) return `was killed by ${status.signal}`;
  if (status.exitCode === null) return `exited (${status.statusNote ?? "its exit status is unknown"})`;
  return `exited with code ${status.exitCode}`;
}

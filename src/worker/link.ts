/**
 * The worker seam: the pool talks to every kind of worker through `WorkerLink` only. A local
 * Python process (`LocalProcessWorker`) is one implementation; `InMemoryWorker` runs the pool
 * logic without Python; a remote worker plugs in the same way.
 *
 * Cancelling a call is done with its `signal` (the connect-es way): the caller's promise settles
 * at once, the slot is freed when the worker ends the call, and a worker that does not end it
 * within its cancel grace is killed (its call "past its cancel" keeps new work away meanwhile).
 */

import type { ControlMethod, BridgeMethods, ToolSpec } from "../bridge/messages.ts";
import type { CrashInfo } from "../resilience/crash.ts";
import type { ExitStatus } from "../runtime/process.ts";
import type { Beat } from "./heartbeat.ts";

export type { ToolSpec };

/** Lifecycle states of a worker. */
export type WorkerState = "starting" | "ready" | "draining" | "stopping" | "stopped" | "crashed";

/** Options of a single call on a worker. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** Budget for this call on the worker, ms. */
  timeoutMs?: number | undefined;
  /** Budget passed on to Python (smaller, so Python's error wins the race). */
  innerTimeoutMs?: number | undefined;
  sessionId?: string | undefined;
  metadata?: Record<string, string> | undefined;
  traceparent?: string | undefined;
  correlationId?: string | undefined;
}

/** Result of a tool call with its timing. */
export interface CallResult {
  result: unknown;
  /** Time spent in the tool, in µs (for streams: from the request's send to the stream's end). */
  durationUs: number;
}

/** A running stream on a worker: its chunks, and its timing once it ended. */
export interface WorkerStream {
  /** Chunks as they come; `return()` cancels the call. */
  readonly chunks: AsyncGenerator<unknown, void, undefined>;
  /** A chunk already received, without a promise (`EMPTY` from bridge/inbox.ts when none is); only once `chunks` started. */
  readonly take?: () => unknown;
  /** Time spent in the tool, µs, once the stream ended (0 before). */
  readonly durationUs: number;
}

/** A worker as `listWorkers()` shows it. Defined here only. */
export interface WorkerInfo {
  id: string;
  pool: string;
  pid: number;
  state: WorkerState;
  inFlight: number;
  capacity: number;
  requests: number;
  uptimeMs: number;
  device?: string | undefined;
  rssBytes?: number | undefined;
  /** The thread limits its math libraries got (OMP_NUM_THREADS, ...). */
  threadLimits?: Record<string, string> | undefined;
}

/** What a worker reports of its own health: read-only, reading it changes nothing. */
export interface WorkerHealth {
  state: WorkerState;
  /** Calls cancelled but not yet ended by the worker. */
  zombieCalls: number;
  /** Moving average of the time calls take here, ms. */
  serviceMs: number;
  lastBeat: Beat | undefined;
}

/** Callbacks from a worker to its owner. */
export interface WorkerHooks {
  /** The process exists (pid known), before its handshake. */
  onSpawn(worker: WorkerLink): void;
  /** The worker ended (for any reason, including a requested stop or a failed start). */
  onExit(worker: WorkerLink, status: ExitStatus, expected: boolean, crash: CrashInfo | undefined, wasReady: boolean): void;
  /** A line the worker wrote to stdout/stderr. */
  onLog(worker: WorkerLink, line: string): void;
  /** A slot freed (a call ended). */
  onIdle(worker: WorkerLink): void;
  /** A cancelled call of `tool` runs on (+1, a "zombie") or ended at last (-1). */
  onZombie?(worker: WorkerLink, tool: string, delta: number): void;
  /** The pool's record of how long each tool's calls run (shared by its workers, replacements included). */
  toolTimes?: Map<string, number> | undefined;
}

/** The seam. */
export interface WorkerLink {
  readonly id: string;
  /** OS process id (0 when there is none, as for in-memory workers). */
  readonly pid: number;
  readonly capacity: number;
  readonly state: WorkerState;
  readonly inFlight: number;
  readonly requests: number;
  /** Epoch ms at which the worker was created. */
  readonly startedAt: number;
  readonly device: string | undefined;
  readonly tools: readonly ToolSpec[];
  /** Ready, a free slot, and no call past its cancel. */
  readonly hasCapacity: boolean;
  /** May hold another short call in its pipe behind the running ones. */
  canPrefetch(depth: number, maxServiceMs: number): boolean;
  /** Spawn / connect and wait for the handshake. */
  start(signal?: AbortSignal): Promise<void>;
  /** Run a tool; takes its slot synchronously. A call that never started rejects with `details.notStarted`. */
  call(tool: string, args: Record<string, unknown>, options?: CallOptions): Promise<CallResult>;
  /** Run a streaming tool; takes its slot synchronously. */
  stream(tool: string, args: Record<string, unknown>, options?: CallOptions): WorkerStream;
  /** A control RPC (ping, heartbeat, sessions, telemetry control). */
  control<M extends ControlMethod>(method: M, msg: BridgeMethods[M][0], timeoutMs?: number): Promise<BridgeMethods[M][1]>;
  /** Take no new calls; resolves once the running ones ended (or `timeoutMs` passed). */
  drain(timeoutMs: number): Promise<void>;
  /** Stop politely, then harder, each step after `graceMs`. */
  stop(graceMs?: number): Promise<ExitStatus | undefined>;
  /** Kill at once; counts as a crash of kind `reason`. */
  kill(reason?: CrashInfo["kind"]): Promise<void>;
  health(): WorkerHealth;
  info(pool: string): WorkerInfo;
  /** Marks a worker being recycled: it finishes its calls and takes no new ones. */
  retire(): void;
  /** Undo `retire()` (its replacement failed to start). */
  unretire(): void;
}

/** Error detail set on calls that a worker never started (they may run elsewhere). */
export const NOT_STARTED = "notStarted";

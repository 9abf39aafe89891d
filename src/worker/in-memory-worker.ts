/**
 * A worker without a process: tools are TypeScript functions, run `capacity` at a time in the
 * order sent (as Python does), on an injectable clock. It runs the pool, call and session logic
 * in tests without Python and without sleeping; `crash()` stands in for a SIGKILL.
 */

import type { CallSink, RequestOptions } from "../bridge/channel.ts";
import type { BridgeMethods, ControlMethod, ExecuteToolRequest, ToolSpec } from "../bridge/messages.ts";
import { type Clock, realClock } from "../core/clock.ts";
import { SnakepitError } from "../errors.ts";
import type { CrashInfo } from "../resilience/crash.ts";
import type { ExitStatus } from "../runtime/process.ts";
import { CallTracker, type Conduit } from "./calls.ts";
import { callTool, streamTool } from "./tool-calls.ts";
import type { CallOptions, CallResult, WorkerHealth, WorkerHooks, WorkerInfo, WorkerLink, WorkerState, WorkerStream } from "./link.ts";

/** What an in-memory tool gets besides its arguments. */
export interface InMemoryToolContext {
  /** Fires when the host cancels the call; a tool that ignores it runs on (a "zombie"). */
  signal: AbortSignal;
  clock: Clock;
  sessionId: string | undefined;
  workerId: string;
}

/** An in-memory tool: returns a value (unary) or an async iterable (streaming). */
export type InMemoryTool = (args: Record<string, unknown>, ctx: InMemoryToolContext) => unknown;

/** How to build an in-memory worker. */
export interface InMemoryWorkerSpec {
  id: string;
  tools: Record<string, { run: InMemoryTool; streaming?: boolean; timeoutMs?: number }>;
  capacity?: number;
  clock?: Clock;
  cancelGraceMs?: number;
  device?: string | undefined;
}

interface Job {
  id: number;
  msg: ExecuteToolRequest;
  sink: CallSink;
  abort: AbortController;
  started: boolean;
}

export class InMemoryWorker implements WorkerLink {
  readonly id: string;
  readonly pid = 0;
  readonly capacity: number;
  readonly startedAt = Date.now();
  readonly device: string | undefined;
  readonly tools: ToolSpec[];
  state: WorkerState = "starting";
  readonly #spec: InMemoryWorkerSpec;
  readonly #clock: Clock;
  readonly #hooks: WorkerHooks;
  readonly #calls: CallTracker;
  readonly #jobs = new Map<number, Job>();
  #running = 0;
  #nextId = 1;
  readonly #exited: Promise<ExitStatus>;
  #exit!: (status: ExitStatus) => void;

  constructor(spec: InMemoryWorkerSpec, hooks: WorkerHooks) {
    this.id = spec.id;
    this.#spec = spec;
    this.capacity = spec.capacity ?? 1;
    this.device = spec.device;
    this.#clock = spec.clock ?? realClock;
    this.#hooks = hooks;
    this.#exited = new Promise((resolve) => (this.#exit = resolve));
    this.tools = Object.entries(spec.tools).map(([name, t]) => ({
      name, description: "", parameters: {}, streaming: t.streaming === true, origin: "python" as const,
      ...(t.timeoutMs ? { timeoutMs: t.timeoutMs } : {}),
    }));
    const worker = this;
    this.#calls = new CallTracker({
      id: spec.id,
      get isReady() {
        return worker.state === "ready";
      },
      cancelGraceMs: spec.cancelGraceMs ?? 2_000,
      released: () => {
        if (this.state === "ready") this.#hooks.onIdle(this);
      },
      cancelTimedOut: () => void this.kill("cancel_timeout"),
      zombie: (tool, delta) => this.#hooks.onZombie?.(this, tool, delta),
      toolTimes: hooks.toolTimes,
    }, this.capacity, this.#clock);
  }

  get inFlight(): number {
    return this.#calls.inFlight;
  }
  get requests(): number {
    return this.#calls.requests;
  }
  get zombieCalls(): number {
    return this.#calls.zombies;
  }
  get hasCapacity(): boolean {
    return this.state === "ready" && this.#calls.hasCapacity;
  }
  canPrefetch(depth: number, maxServiceMs: number): boolean {
    return this.state === "ready" && this.#calls.canPrefetch(depth, maxServiceMs);
  }
  /** Calls the tool code is running now (not those waiting behind them). */
  get running(): number {
    return this.#running;
  }

  start(): Promise<void> {
    this.#hooks.onSpawn(this);
    this.state = "ready";
    return Promise.resolve();
  }

  readonly #conduit: Conduit = {
    request: (_method: string, msg: ExecuteToolRequest, sink: CallSink, _options: RequestOptions) => {
      const job: Job = { id: this.#nextId++, msg, sink, abort: new AbortController(), started: false };
      this.#jobs.set(job.id, job);
      queueMicrotask(() => this.#pump());
      return job.id;
    },
    cancel: (id) => {
      const job = this.#jobs.get(id);
      if (!job) return;
      if (!job.started) this.#end(job, undefined, new SnakepitError("aborted", "cancelled before it started"));
      else job.abort.abort(new SnakepitError("aborted", "cancelled by the host"));
    },
    credit: () => {},
  };

  /** Start waiting jobs while slots are free, in the order sent. */
  #pump(): void {
    for (const job of this.#jobs.values()) {
      if (this.#running >= this.capacity || this.state === "crashed" || this.state === "stopped") return;
      if (job.started) continue;
      job.started = true;
      this.#running++;
      void this.#run(job);
    }
  }

  async #run(job: Job): Promise<void> {
    const tool = this.#spec.tools[job.msg.toolName];
    const t0 = this.#clock.now();
    try {
      if (!tool) throw new SnakepitError("tool_not_found", `tool '${job.msg.toolName}' not found`);
      const ctx = { signal: job.abort.signal, clock: this.#clock, sessionId: job.msg.sessionId || undefined, workerId: this.id };
      const out = await tool.run(job.msg.args, ctx);
      if (tool.streaming) {
        for await (const data of out as AsyncIterable<unknown>) {
          if (!this.#jobs.has(job.id)) return;
          job.sink.message?.({ data });
        }
        this.#end(job, { durationUs: (this.#clock.now() - t0) * 1000 });
      } else {
        this.#end(job, { result: out, durationUs: (this.#clock.now() - t0) * 1000 });
      }
    } catch (err) {
      this.#end(job, undefined, SnakepitError.from(err));
    }
  }

  #end(job: Job, reply: unknown, error?: SnakepitError): void {
    if (!this.#jobs.delete(job.id)) return;
    if (job.started) this.#running--;
    job.sink.end(reply, error);
    this.#pump();
  }

  call(tool: string, args: Record<string, unknown>, options: CallOptions = {}): Promise<CallResult> {
    return callTool(this.#calls, this.#conduit, tool, args, options);
  }

  /** Stream a tool's chunks; the call starts (and takes its slot) now, not at the first `next()`. */
  stream(tool: string, args: Record<string, unknown>, options: CallOptions = {}): WorkerStream {
    return streamTool(this.#calls, this.#conduit, tool, args, options, false);
  }

  control<M extends ControlMethod>(_method: M, _msg: BridgeMethods[M][0]): Promise<BridgeMethods[M][1]> {
    return Promise.resolve({} as BridgeMethods[M][1]);
  }

  drain(timeoutMs: number): Promise<void> {
    this.retire();
    return this.#calls.whenDrained(timeoutMs);
  }

  retire(): void {
    if (this.state === "ready") this.state = "draining";
  }
  unretire(): void {
    if (this.state === "draining") this.state = "ready";
  }

  async stop(): Promise<ExitStatus | undefined> {
    this.#die({ exitCode: 0, signal: null }, undefined);
    return this.#exited;
  }

  /** Die at once like a SIGKILLed process: running calls fail with worker_crashed, unstarted ones say so. */
  kill(reason: CrashInfo["kind"] = "signal"): Promise<void> {
    this.#die({ exitCode: null, signal: "SIGKILL" }, { kind: reason, exitCode: null, signal: "SIGKILL" });
    return this.#exited.then(() => {});
  }

  #die(status: ExitStatus, crash: CrashInfo | undefined): void {
    if (this.state === "crashed" || this.state === "stopped") return;
    const wasReady = this.state !== "starting";
    this.state = crash ? "crashed" : "stopped";
    this.#calls.markUnstarted();
    const err = crash
      ? new SnakepitError("worker_crashed", `Worker "${this.id}" was killed by SIGKILL`, { details: { worker: this.id, crash: crash.kind } })
      : new SnakepitError("worker_unavailable", `Worker "${this.id}" stopped`, { details: { worker: this.id } });
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    for (const job of jobs) {
      job.abort.abort(err);
      job.sink.end(undefined, err);
    }
    this.#running = 0;
    this.#exit(status);
    this.#hooks.onExit(this, status, crash === undefined, crash, wasReady);
  }

  health(): WorkerHealth {
    return { state: this.state, zombieCalls: this.#calls.zombies, serviceMs: this.#calls.serviceMs, lastBeat: undefined };
  }

  info(pool: string): WorkerInfo {
    return {
      id: this.id, pool, pid: 0, state: this.state, inFlight: this.inFlight, capacity: this.capacity, requests: this.requests,
      uptimeMs: Date.now() - this.startedAt, device: this.device,
    };
  }
}

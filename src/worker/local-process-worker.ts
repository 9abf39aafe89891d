/**
 * A worker that is a local Python process: spawn, Ready handshake (protocol version checked),
 * calls over the pipe channel, stop in stages. One implementation of the `WorkerLink` seam.
 */

import { Channel } from "../bridge/channel.ts";
import { serveHost } from "../bridge/host-service.ts";
import { FrameDecoder } from "../bridge/frames.ts";
import { type BridgeMethods, type ControlMethod, type HostHandlers, toolSpecFromWire, type ToolSpec } from "../bridge/messages.ts";
import { type Clock, realClock } from "../core/clock.ts";
import { SnakepitError } from "../errors.ts";
import { type CrashKind, classifyCrash } from "../resilience/crash.ts";
import { oomKills, rssBytes } from "../runtime/procfs.ts";
import { type ChildProcess, type ExitStatus, spawnChild } from "../runtime/process.ts";
import { CallTracker } from "./calls.ts";
import { awaitHandshake, checkProtocol, describeExit, workerCommand, type WorkerSpec } from "./handshake.ts";
import { type Beat, startHeartbeat } from "./heartbeat.ts";
import { callTool, streamTool } from "./tool-calls.ts";
import type { CallOptions, CallResult, WorkerHealth, WorkerHooks, WorkerInfo, WorkerLink, WorkerState, WorkerStream } from "./link.ts";
import { OutputTail, pump } from "./output.ts";
import { stopInStages } from "./terminate.ts";

export { describeExit, type WorkerSpec };

/** Hooks of a local worker: the seam's, plus the handlers of requests the worker sends the host. */
export interface LocalWorkerHooks extends WorkerHooks {
  host: HostHandlers;
}

export class LocalProcessWorker implements WorkerLink {
  readonly id: string;
  readonly spec: WorkerSpec;
  readonly capacity: number;
  state: WorkerState = "starting";
  tools: ToolSpec[] = [];
  pid = 0;
  readonly startedAt = Date.now();
  pythonVersion = "";
  features: string[] = [];
  /** Last heartbeat answer (RSS, sessions), if any. */
  lastBeat: Beat | undefined;
  readonly #calls: CallTracker;
  #child: ChildProcess | undefined;
  #channel: Channel | undefined;
  readonly #hooks: LocalWorkerHooks;
  readonly #tail = new OutputTail();
  #exit: Promise<ExitStatus> | undefined;
  #stopRequested = false;
  #killedFor: CrashKind | undefined;
  #stopHeartbeat: () => void = () => {};
  #oomAtStart: number | undefined;

  constructor(spec: WorkerSpec, hooks: LocalWorkerHooks, clock: Clock = realClock) {
    this.id = spec.id;
    this.spec = spec;
    this.capacity = spec.capacity ?? 1;
    this.#hooks = hooks;
    const worker = this;
    this.#calls = new CallTracker({
      id: spec.id,
      get isReady() {
        return worker.state === "ready";
      },
      cancelGraceMs: spec.cancelGraceMs ?? 2_000,
      released: () => this.#released(),
      zombie: (tool, delta) => this.#hooks.onZombie?.(this, tool, delta),
      toolTimes: hooks.toolTimes,
      cancelTimedOut: (callId) => {
        this.#hooks.onLog(this, `call ${callId} did not stop within ${spec.cancelGraceMs ?? 2000} ms of its cancel; recycling worker`);
        void this.kill("cancel_timeout");
      },
    }, this.capacity, clock);
  }

  get inFlight(): number {
    return this.#calls.inFlight;
  }

  get requests(): number {
    return this.#calls.requests;
  }

  /** Cancelled calls still running in Python. */
  get zombieCalls(): number {
    return this.#calls.zombies;
  }

  get hasCapacity(): boolean {
    return this.state === "ready" && this.#calls.hasCapacity;
  }

  /** Only workers whose calls are short take prefetched calls, so none waits long behind another. */
  canPrefetch(depth: number, maxServiceMs: number): boolean {
    return this.state === "ready" && this.#calls.canPrefetch(depth, maxServiceMs);
  }

  get device(): string | undefined {
    return this.spec.device;
  }

  /** The last lines the process printed. */
  lastOutput(lines = 20): string {
    return this.#tail.text(lines);
  }

  /** Spawn the process and wait for its Ready handshake. */
  async start(signal?: AbortSignal): Promise<void> {
    const spec = this.spec;
    const pythonPath = [spec.bridgeDir, spec.env.PYTHONPATH].filter(Boolean).join(":");
    let child: ChildProcess;
    try {
      child = await (spec.spawn ?? spawnChild)(workerCommand(spec, this.capacity), { env: { ...spec.env, PYTHONPATH: pythonPath }, cwd: spec.cwd });
    } catch (cause) {
      throw new SnakepitError("worker_spawn_failed", `Cannot start worker "${this.id}": ${(cause as Error).message}`, {
        cause,
        details: { worker: this.id, python: spec.python },
      });
    }
    this.#child = child;
    this.pid = child.pid;
    this.#oomAtStart = oomKills();
    this.#hooks.onSpawn(this);
    let onReady!: (error?: SnakepitError) => void;
    const ready = new Promise<void>((resolve, reject) => (onReady = (error) => (error ? reject(error) : resolve())));
    const channel = new Channel((bytes) => child.write(bytes), serveHost(this.#hooks.host, (hello) => {
      this.tools = (hello.tools ?? []).map(toolSpecFromWire);
      this.pythonVersion = hello.pythonVersion ?? "";
      this.features = hello.features ?? [];
      onReady(checkProtocol(this.id, hello.protocolVersion));
    }));
    channel.peerPid = child.pid;
    this.#channel = channel;
    const decoder = new FrameDecoder();
    const stdoutDone = pump(child.stdout, (chunk) => {
      try {
        for (const packet of decoder.push(chunk)) channel.receive(packet);
      } catch (err) {
        // The stream is out of step: nothing more from this worker can be trusted.
        this.#hooks.onLog(this, `protocol error from worker ${this.id}: ${(err as Error).message}; killing it`);
        void this.kill("protocol_error");
      }
    });
    const text = new TextDecoder();
    const stderrDone = pump(child.stderr, (chunk) => {
      for (const line of this.#tail.push(text.decode(chunk, { stream: true }))) this.#hooks.onLog(this, line);
    });
    this.#exit = child.exited.then(async (status) => {
      // Take down anything the worker left in its process group (tool subprocesses), then give
      // the pipes a moment to drain: a straggler holding stderr must not hold up the exit.
      child.kill("SIGKILL");
      await Promise.race([Promise.all([stdoutDone, stderrDone]), new Promise((r) => setTimeout(r, 200))]);
      this.#onExit(status);
      return status;
    });
    try {
      await awaitHandshake({ id: this.id, ready, exited: this.#exit, timeoutMs: spec.startupTimeoutMs, signal, lastOutput: (n) => this.lastOutput(n) });
      this.state = "ready";
      if (spec.heartbeat) {
        this.#stopHeartbeat = startHeartbeat(
          spec.heartbeat,
          (seq, timeoutMs) => channel.call("Heartbeat", { seq }, timeoutMs),
          (beat) => (this.lastBeat = beat),
          () => void this.kill("heartbeat_timeout"),
        );
      }
    } catch (err) {
      this.#stopRequested = true;
      child.kill("SIGKILL");
      throw err;
    }
  }

  #onExit(status: ExitStatus): void {
    this.#stopHeartbeat();
    const expected = this.#stopRequested;
    const wasReady = this.state !== "starting";
    this.state = expected ? "stopped" : "crashed";
    const oomNow = oomKills();
    const crash = expected ? undefined : classifyCrash(status, this.#killedFor, oomNow !== undefined && this.#oomAtStart !== undefined && oomNow > this.#oomAtStart);
    if (crash && this.inFlight > 0) crash.duringCall = true;
    const why = crash && crash.kind !== "exit" && crash.kind !== "signal" ? ` (${crash.kind.replace("_", " ")})` : "";
    const out = this.lastOutput(12);
    const err = expected
      ? new SnakepitError("worker_unavailable", `Worker "${this.id}" stopped`, { details: { worker: this.id } })
      : new SnakepitError(
          "worker_crashed",
          `Worker "${this.id}" (pid ${this.pid}) ${describeExit(status)}${why}${out ? `; last output:\n${out}` : ""}`,
          { details: { worker: this.id, pid: this.pid, ...status, crash: crash?.kind, lastOutput: this.lastOutput() } },
        );
    this.#calls.markUnstarted();
    this.#channel?.close(err);
    this.#hooks.onExit(this, status, expected, crash, wasReady);
  }

  #released(): void {
    if (this.state === "ready") this.#hooks.onIdle(this);
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

  call(tool: string, args: Record<string, unknown>, options: CallOptions = {}): Promise<CallResult> {
    return callTool(this.#calls, this.#channel, tool, args, options);
  }

  /** Stream a tool's chunks; the call starts (and takes its slot) now, not at the first `next()`. */
  stream(tool: string, args: Record<string, unknown>, options: CallOptions = {}): WorkerStream {
    return streamTool(this.#calls, this.#channel, tool, args, options, true);
  }

  /** Internal: the worker's channel, for the Connect transport. Not semver. */
  get channel(): Channel | undefined {
    return this.#channel;
  }

  control<M extends ControlMethod>(method: M, msg: BridgeMethods[M][0], timeoutMs = 5_000): Promise<BridgeMethods[M][1]> {
    if (!this.#channel) return Promise.reject(new SnakepitError("worker_unavailable", `Worker "${this.id}" is not started`));
    return this.#channel.call(method, msg, timeoutMs);
  }

  /** Stop: polite Shutdown RPC, then SIGTERM, then SIGKILL, each after `graceMs`. */
  async stop(graceMs = 2_000): Promise<ExitStatus | undefined> {
    const child = this.#child;
    if (!child || !this.#exit) return undefined;
    this.#stopRequested = true;
    this.#stopHeartbeat();
    if (this.state === "ready" || this.state === "draining") this.state = "stopping";
    return stopInStages(child, this.#exit, () => void this.#channel?.call("Shutdown", { graceMs }, graceMs).catch(() => {}), graceMs);
  }

  async kill(reason: CrashKind = "signal"): Promise<void> {
    this.#killedFor ??= reason;
    this.#child?.kill("SIGKILL");
    this.#child?.closeStdin();
    await this.#exit;
  }

  /** Send a signal to the worker's process group (tests, chaos). */
  signal(sig: "SIGTERM" | "SIGKILL" | "SIGSTOP" | "SIGCONT"): void {
    this.#child?.kill(sig);
  }

  /** Resolves when the process has exited and its pipes are drained. */
  get exited(): Promise<ExitStatus> | undefined {
    return this.#exit;
  }

  health(): WorkerHealth {
    return { state: this.state, zombieCalls: this.#calls.zombies, serviceMs: this.#calls.serviceMs, lastBeat: this.lastBeat };
  }

  info(pool: string): WorkerInfo {
    return {
      id: this.id, pool, pid: this.pid, state: this.state, inFlight: this.inFlight, capacity: this.capacity, requests: this.requests,
      uptimeMs: Date.now() - this.startedAt, device: this.device, rssBytes: rssBytes(this.pid) ?? this.lastBeat?.rssBytes,
    };
  }
}

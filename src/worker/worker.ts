/**
 * One Python worker process: spawn, readiness handshake, calls over the channel, stop in stages.
 */

import { Channel, type InboundHandlers } from "../bridge/channel.ts";
import { Inbox } from "../bridge/inbox.ts";
import { FrameDecoder } from "../bridge/frames.ts";
import { MAX_TIMER_MS } from "../config/limits.ts";
import { abortError, SnakepitError } from "../errors.ts";
import { type ChildProcess, type ExitStatus, spawnChild, type SpawnOptions } from "../runtime/process.ts";
import { type CrashInfo, type CrashKind, classifyCrash } from "../resilience/crash.ts";
import { oomKills } from "../runtime/procfs.ts";
import { type Beat, type HeartbeatConfig, startHeartbeat } from "./heartbeat.ts";
import { OutputTail, pump } from "./output.ts";

/** A tool as the worker describes it. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  streaming: boolean;
  origin: "python" | "host";
}

/** Lifecycle states of a worker. */
export type WorkerState = "starting" | "ready" | "draining" | "stopping" | "stopped" | "crashed";

/** How to start one worker. */
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

/** Callbacks from a worker to its owner. */
export interface WorkerHooks {
  /** The process exists (pid known), before its handshake. */
  onSpawn(worker: Worker): void;
  /** The process ended (for any reason, including a requested stop or a failed start). */
  onExit(worker: Worker, status: ExitStatus, expected: boolean, crash: CrashInfo | undefined, wasReady: boolean): void;
  /** A line the worker wrote to stdout/stderr. */
  onLog(worker: Worker, line: string): void;
  /** A slot freed (a call ended). */
  onIdle(worker: Worker): void;
  /** Requests the worker sends to the host (host tools, telemetry), besides Ready. */
  inbound: InboundHandlers;
}

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
  durationUs: number;
}

export class Worker {
  readonly id: string;
  readonly spec: WorkerSpec;
  readonly capacity: number;
  state: WorkerState = "starting";
  tools: ToolSpec[] = [];
  pid = 0;
  inFlight = 0;
  requests = 0;
  readonly startedAt = Date.now();
  pythonVersion = "";
  features: string[] = [];
  /** Slots held by cancelled calls that Python has not yet ended. */
  #zombies = 0;
  #child: ChildProcess | undefined;
  #channel: Channel | undefined;
  readonly #hooks: WorkerHooks;
  readonly #tail = new OutputTail();
  #exit: Promise<ExitStatus> | undefined;
  #stopRequested = false;
  #killedFor: CrashKind | undefined;
  #stopHeartbeat: () => void = () => {};
  #oomAtStart: number | undefined;
  /** Last heartbeat answer (RSS, sessions), if any. */
  lastBeat: Beat | undefined;

  constructor(spec: WorkerSpec, hooks: WorkerHooks) {
    this.id = spec.id;
    this.spec = spec;
    this.capacity = spec.capacity ?? 1;
    this.#hooks = hooks;
  }

  /** Moving average of how long calls take here, send to end, ms. */
  serviceMs = 0;

  /** True when the worker has an idle slot now. */
  get hasCapacity(): boolean {
    return this.state === "ready" && this.inFlight < this.capacity;
  }

  /**
   * True when the worker may take a call to hold in its pipe behind the running ones: only for
   * workers whose calls are short, so a queued call never waits behind a long one for long.
   */
  canPrefetch(depth: number, maxServiceMs: number): boolean {
    return this.state === "ready" && this.inFlight < this.capacity + depth && this.serviceMs < maxServiceMs;
  }

  /** The last lines the process printed. */
  lastOutput(lines = 20): string {
    return this.#tail.text(lines);
  }

  /** Spawn the process and wait for its Ready handshake. */
  async start(signal?: AbortSignal): Promise<void> {
    const spec = this.spec;
    const cmd = [
      spec.python,
      ...(spec.pythonArgs ?? []),
      "-m",
      "snakepit_bridge",
      "--adapter",
      spec.adapter,
      "--worker-id",
      spec.id,
      "--run-id",
      spec.runId,
      "--capacity",
      String(this.capacity),
    ];
    if (spec.logLevel) cmd.push("--log-level", spec.logLevel);
    if (spec.instance) cmd.push("--instance", spec.instance);
    const hb = spec.heartbeat;
    if (hb?.enabled) cmd.push("--host-timeout-ms", String(hb.timeoutMs * hb.maxMissed + hb.intervalMs));
    const pythonPath = [spec.bridgeDir, spec.env.PYTHONPATH].filter(Boolean).join(":");
    let child: ChildProcess;
    try {
      child = await (spec.spawn ?? spawnChild)(cmd, { env: { ...spec.env, PYTHONPATH: pythonPath }, cwd: spec.cwd });
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
    let onReady!: () => void;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    const channel = new Channel((bytes) => child.write(bytes), {
      unary: (method, msg, ctx) => {
        if (method === "Ready") {
          this.tools = (msg.tools as ToolSpec[] | undefined) ?? [];
          this.pythonVersion = String(msg.pythonVersion ?? "");
          this.features = (msg.features as string[] | undefined) ?? [];
          onReady();
          return {};
        }
        return this.#hooks.inbound.unary(method, msg, ctx);
      },
      stream: (method, msg, ctx) => this.#hooks.inbound.stream(method, msg, ctx),
    });
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

    let timer: ReturnType<typeof setTimeout> | undefined;
    let onStopAbort: (() => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new SnakepitError(
          "worker_spawn_failed",
          `Cannot start worker "${this.id}": not ready within ${spec.startupTimeoutMs} ms${this.#outputSuffix()}`,
          { details: { worker: this.id, timeoutMs: spec.startupTimeoutMs, lastOutput: this.lastOutput() } },
        ));
      }, spec.startupTimeoutMs);
      this.#exit!.then((status) => {
        reject(new SnakepitError(
          "worker_spawn_failed",
          `Cannot start worker "${this.id}": python ${describeExit(status)} before it was ready${this.#outputSuffix(30)}`,
          { details: { worker: this.id, ...status, lastOutput: this.lastOutput() } },
        ));
      });
      onStopAbort = () => reject(abortError(signal!));
      signal?.addEventListener("abort", onStopAbort, { once: true });
    });
    try {
      await Promise.race([ready, failed]);
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
    } finally {
      clearTimeout(timer);
      if (onStopAbort) signal?.removeEventListener("abort", onStopAbort);
    }
  }

  #outputSuffix(lines = 12): string {
    const out = this.lastOutput(lines);
    return out ? `; last output:\n${out}` : "";
  }

  #onExit(status: ExitStatus): void {
    this.#stopHeartbeat();
    const expected = this.#stopRequested;
    const wasReady = this.state !== "starting";
    this.state = expected ? "stopped" : "crashed";
    const oomNow = oomKills();
    const crash = expected ? undefined : classifyCrash(status, this.#killedFor, oomNow !== undefined && this.#oomAtStart !== undefined && oomNow > this.#oomAtStart);
    const why = crash && crash.kind !== "exit" && crash.kind !== "signal" ? ` (${crash.kind.replace("_", " ")})` : "";
    const err = expected
      ? new SnakepitError("worker_unavailable", `Worker "${this.id}" stopped`, { details: { worker: this.id } })
      : new SnakepitError(
          "worker_crashed",
          `Worker "${this.id}" (pid ${this.pid}) ${describeExit(status)}${why}${this.#outputSuffix()}`,
          { details: { worker: this.id, pid: this.pid, ...status, crash: crash?.kind, lastOutput: this.lastOutput() } },
        );
    this.#channel?.close(err);
    this.#hooks.onExit(this, status, expected, crash, wasReady);
  }

  #drainWaiters: Array<() => void> = [];

  #release(): void {
    this.inFlight--;
    if (this.state === "ready") this.#hooks.onIdle(this);
    else if (this.inFlight === 0) for (const done of this.#drainWaiters.splice(0)) done();
  }

  /** Take no new calls; resolves once the running ones have ended (or `timeoutMs` passed). */
  drain(timeoutMs: number): Promise<void> {
    if (this.state === "ready") this.state = "draining";
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Run a call. The caller's promise settles at once on abort or timeout; the worker's slot is
   * freed only when Python ends the call, or the worker is recycled after the cancel grace.
   */
  #start(method: "ExecuteTool" | "ExecuteStreamingTool", tool: string, args: Record<string, unknown>, options: CallOptions, onMessage?: (msg: unknown) => void): {
    id: number;
    done: Promise<unknown>;
    cancel: (reason: SnakepitError) => void;
  } {
    const channel = this.#channel;
    if (!channel || this.state !== "ready") {
      throw new SnakepitError("worker_unavailable", `Worker "${this.id}" is ${this.state}`, { details: { worker: this.id } });
    }
    let settle!: (err: SnakepitError | undefined, msg?: unknown) => void;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    let cancelled = false;
    const done = new Promise<unknown>((resolve, reject) => {
      settle = (err, msg) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(msg);
      };
    });
    const msg: Record<string, unknown> = { toolName: tool, args };
    if (options.sessionId) msg.sessionId = options.sessionId;
    if (options.metadata) msg.metadata = options.metadata;
    if (options.traceparent) msg.traceparent = options.traceparent;
    if (options.correlationId) msg.correlationId = options.correlationId;
    const sentAt = performance.now();
    const id = channel.request(method, msg, {
      message: onMessage,
      end: (reply, err) => {
        this.serviceMs += (performance.now() - sentAt - this.serviceMs) * 0.2;
        if (graceTimer) clearTimeout(graceTimer);
        if (cancelled) this.#zombies--;
        this.#release();
        // A crash ends every call with one shared error: give each caller its own copy.
        const own = err && new SnakepitError(err.code, err.message, {
          cause: err.cause ?? err,
          details: { ...err.details, worker: err.details.worker ?? this.id, tool: err.details.tool ?? tool },
          ...(err.python ? { python: err.python } : {}),
        });
        settle(own, reply);
      },
    }, { streaming: method === "ExecuteStreamingTool", timeoutMs: options.innerTimeoutMs ?? options.timeoutMs });
    // Counted only once the request is on its way (encoding can throw above).
    this.inFlight++;
    this.requests++;

    const cancel = (reason: SnakepitError) => {
      if (settled || cancelled) return;
      cancelled = true;
      this.#zombies++;
      settle(reason);
      channel.cancel(id);
      graceTimer = setTimeout(() => {
        this.#hooks.onLog(this, `call ${id} did not stop within ${this.spec.cancelGraceMs ?? 2000} ms of its cancel; recycling worker`);
        void this.kill("cancel_timeout");
      }, this.spec.cancelGraceMs ?? 2000);
    };
    const onAbort = () => cancel(abortError(options.signal!));
    if (options.signal) {
      if (options.signal.aborted) onAbort();
      else options.signal.addEventListener("abort", onAbort, { once: true });
    }
    // Budgets past a timer's range (~24.8 days) mean "no deadline": a timer that long would fire at once.
    if (options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) && options.timeoutMs <= MAX_TIMER_MS) {
      timer = setTimeout(() => {
        cancel(new SnakepitError("deadline_exceeded", `Tool "${tool}" did not finish within ${Math.round(options.timeoutMs!)} ms`, {
          details: { tool, worker: this.id, timeoutMs: options.timeoutMs },
        }));
      }, Math.max(0, options.timeoutMs));
    }
    return { id, done, cancel };
  }

  /** Execute a tool and return its result. The call takes its slot synchronously. */
  execute(tool: string, args: Record<string, unknown>, options: CallOptions = {}): Promise<CallResult> {
    let call;
    try {
      call = this.#start("ExecuteTool", tool, args, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return call.done.then((reply) => {
      const r = reply as { result?: unknown; durationUs?: number } | undefined;
      return { result: r?.result ?? null, durationUs: Number(r?.durationUs ?? 0) };
    });
  }

  /**
   * Stream a tool's chunks; breaking out of the loop cancels the call in Python. The call starts
   * (and takes its slot) now, not at the first `next()`.
   */
  stream(tool: string, args: Record<string, unknown>, options: CallOptions = {}): AsyncGenerator<unknown, void, undefined> {
    const inbox = new Inbox<unknown>();
    const call = this.#start("ExecuteStreamingTool", tool, args, options, (msg) => inbox.push((msg as { data?: unknown }).data ?? null));
    call.done.then(() => inbox.end(), (err) => inbox.end(err));
    const channel = this.#channel;
    return inbox.read(
      (n) => channel?.credit(call.id, n),
      () => call.cancel(new SnakepitError("aborted", `Stream of "${tool}" was closed by the consumer`)),
    );
  }

  /** Internal: the worker's channel, for the Connect transport. Not semver. */
  get channel(): Channel | undefined {
    return this.#channel;
  }

  /** Send a control RPC (ping, heartbeat, sessions, telemetry control). */
  control(method: string, msg: Record<string, unknown>, timeoutMs = 5_000): Promise<Record<string, unknown>> {
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
    const exited = this.#exit;
    const within = (ms: number) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
      return Promise.race([exited.then(() => true), late]).finally(() => clearTimeout(timer));
    };
    this.#channel?.call("Shutdown", { graceMs }, graceMs).catch(() => {});
    if (await within(graceMs + 200)) return exited;
    child.kill("SIGTERM");
    if (await within(1_000)) return exited;
    child.kill("SIGKILL");
    child.closeStdin();
    return exited;
  }

  /** Kill at once (heartbeat lost, cancel grace ran out). Counts as a crash of kind `reason`. */
  async kill(reason: CrashKind = "signal"): Promise<void> {
    this.#killedFor ??= reason;
    this.#child?.kill("SIGKILL");
    this.#child?.closeStdin();
    await this.#exit;
  }

  /** The device this worker was given, if any. */
  get device(): string | undefined {
    return this.spec.device;
  }

  /** Send a signal to the worker's process group (tests, chaos). */
  signal(sig: "SIGTERM" | "SIGKILL" | "SIGSTOP" | "SIGCONT"): void {
    this.#child?.kill(sig);
  }

  /** Resolves when the process has exited and its pipes are drained. */
  get exited(): Promise<ExitStatus> | undefined {
    return this.#exit;
  }

  /** Cancelled calls still running in Python. */
  get zombieCalls(): number {
    return this.#zombies;
  }
}

/** "exited with code 1" / "was killed by SIGKILL". */
export function describeExit(status: ExitStatus): string {
  if (status.signal) return `was killed by ${status.signal}`;
  return `exited with code ${status.exitCode}`;
}

/** The public facade: start pools, call tools, stream, sessions, host tools, inspect, close. */

import { createHostHandlers } from "./bridge/host-handlers.ts";
import { shmWorkerEnv } from "./bridge/shm.ts";
import { parseConfig, parseSessionConfig, type SnakepitOptions } from "./config/parse.ts";
import { SnakepitError } from "./errors.ts";
import { type AffinityMode } from "./pool/affinity.ts";
import { type ExecuteOptions, Pool, type WorkerInfo } from "./pool/pool.ts";
import type { PoolStatsSnapshot } from "./pool/stats.ts";
import { stateDir as defaultStateDir } from "./config/paths.ts";
import { ProcessRegistry } from "./registry/process-registry.ts";
import { pidsWithRunId } from "./runtime/procfs.ts";
import { hostEnv } from "./runtime/process.ts";
import { type CreateSessionOptions, SessionManager } from "./session/sessions.ts";
import type { Session } from "./session/store.ts";
import { EventBus, type EventName, type SnakepitEvents } from "./telemetry/bus.ts";
import type { TelemetryApi } from "./telemetry/api.ts";
import type { TelemetryControlInput } from "./telemetry/control.ts";
import type { Logger, LogSink } from "./telemetry/logger.ts";
import { setUpTelemetry } from "./telemetry/setup.ts";
import { type HostToolDefinition, ToolRegistry } from "./tools/registry.ts";
import { getBridgeDir } from "./worker/python.ts";
import { checkThreadSafety, preparePool } from "./python-env/prepare.ts";
import { type DetectOptions, detectHardware } from "./hardware/detect.ts";
import { type GpuProfiler, startGpuProfiler } from "./hardware/profiler.ts";
import type { HardwareInfo } from "./hardware/types.ts";
import type { ToolSpec } from "./worker/worker.ts";
import type { z } from "zod";

/** Options of one call through the facade. */
export interface CallOptions extends ExecuteOptions {
  /** Pool to use. @default the first pool */
  pool?: string | undefined;
  /** Run in this session: its worker (affinity), its Python state, its host tools. */
  sessionId?: string | undefined;
}

/** Figures of every pool. */
export interface SnakepitStats {
  pools: Record<string, PoolStatsSnapshot>;
  workers: number;
  queued: number;
  inFlight: number;
  requests: number;
  completed: number;
  failed: number;
  sessions: number;
}

/** What the rehydrate hook gets when a strict-affinity session lost its worker. */
export interface RehydrateContext {
  sessionId: string;
  pool: string;
  /** The worker that held the state and is gone. */
  lostWorker: string;
  /** Calls made through this handle go to the session's new worker. */
  session: SessionHandle;
}

/** Listeners and hooks attached before the pools start. */
export interface StartHooks {
  on?: { [K in EventName]?: (data: SnakepitEvents[K]) => void };
  /**
   * Rebuild a session's state on a new worker after its pinned worker died (strict affinity).
   * Without it, the session's next call fails with `session_worker_lost`.
   */
  rehydrate?: (ctx: RehydrateContext) => Promise<void> | void;
  /** Where log records go. @default JSON lines on stderr */
  logSink?: LogSink;
}

/** A session's view of the pit: every call carries the session id. */
export interface SessionHandle {
  readonly id: string;
  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: Omit<CallOptions, "sessionId">): Promise<T>;
  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: Omit<CallOptions, "sessionId">): AsyncGenerator<T, void, undefined>;
  /** Host tools only this session's Python calls can see. */
  readonly tools: { register<S extends z.ZodType>(name: string, definition: HostToolDefinition<S>): () => void };
  /** The session's record (touches it); undefined once it ended. */
  info(): Session | undefined;
  /** End the session: its Python state and its host tools are dropped. */
  close(): boolean;
}

/** Host tools and the tools of every pool. */
export interface ToolsApi {
  /** Register a host tool that Python tools call with `ctx.call(name, **kwargs)`. */
  register<S extends z.ZodType>(name: string, definition: HostToolDefinition<S>, options?: { sessionId?: string }): () => void;
  /** Python tools of a pool (default: every pool) and the host tools. */
  list(options?: { pool?: string; sessionId?: string }): Array<ToolSpec & { pool?: string }>;
}

/** 128 random bits: two runs never share an id, so one never kills the other's workers. */
function newRunId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/**
 * A running set of Python worker pools.
 *
 * @example
 * ```ts
 * await using pit = await Snakepit.start({ adapter: "./examples/adapters/demo.py:DemoAdapter", poolSize: 2 });
 * console.log(await pit.execute("add", { a: 1, b: 2 })); // 3
 * ```
 */
export class Snakepit implements AsyncDisposable {
  readonly runId: string;
  readonly sessions: SessionManager;
  readonly tools: ToolsApi;
  /** Custom events and spans, Python telemetry control, the event stream, metrics. */
  telemetry!: TelemetryApi;
  /** Structured logs (silent by default but for errors). */
  logger!: Logger;
  readonly #pools = new Map<string, Pool>();
  readonly #bus: EventBus;
  readonly #registry = new ToolRegistry();
  readonly #hooks: StartHooks;
  readonly #processes: ProcessRegistry;
  readonly instance: string;
  #closing: Promise<void> | undefined;
  #gpuProfiler: GpuProfiler | undefined;

  private constructor(runId: string, bus: EventBus, sessions: SessionManager, hooks: StartHooks, registry: ProcessRegistry, instance: string) {
    this.runId = runId;
    this.instance = instance;
    this.#processes = registry;
    this.#bus = bus;
    this.sessions = sessions;
    this.#hooks = hooks;
    this.tools = {
      register: (name, definition, options) => {
        if (options?.sessionId !== undefined && !this.sessions.get(options.sessionId)) {
          throw new SnakepitError("session_not_found", `No session "${options.sessionId}" to register host tool "${name}" for`, {
            details: { session: options.sessionId },
          });
        }
        return this.#registry.register(name, definition, options);
      },
      list: (options = {}) => {
        const names = options.pool ? [this.#pool(options.pool).name] : [...this.#pools.keys()];
        return [
          ...names.flatMap((pool) => this.#pools.get(pool)!.tools.map((t) => ({ ...t, pool }))),
          ...this.#registry.list(options.sessionId),
        ];
      },
    };
  }

  /**
   * The host's CPU, memory and GPUs (NVIDIA via nvidia-smi, AMD via rocm-smi, Apple MPS), each with
   * the reason when absent. Cached for 30 s; `{ refresh: true }` detects again. Needs no running pit.
   *
   * @example
   * ```ts
   * const hw = await Snakepit.hardware();
   * console.log(hw.accelerator, hw.gpus.map((g) => g.id));
   * ```
   */
  static hardware(options?: DetectOptions): Promise<HardwareInfo> {
    return detectHardware(options);
  }

  /** Validate the config, start every pool's workers, and resolve once all are ready. */
  static async start(options: SnakepitOptions, hooks: StartHooks = {}): Promise<Snakepit> {
    const configs = parseConfig(options);
    const sessionConfig = parseSessionConfig(options.sessions);
    const bus = new EventBus();
    for (const [name, handler] of Object.entries(hooks.on ?? {})) bus.on(name as EventName, handler as (data: unknown) => void);
    let pit: Snakepit | undefined;
    const sessions = new SessionManager(sessionConfig, {
      bus,
      onEnd: (session) => {
        if (pit) pit.#sessionEnded(session);
      },
      // A new session never inherits host tools registered for an earlier one of the same id.
      onCreate: (session) => {
        if (pit) pit.#registry.dropSession(session.id);
      },
    });
    const runId = newRunId();
    const instance = options.instance ?? "default";
    let registry: ProcessRegistry;
    try {
      registry = new ProcessRegistry(options.stateDir ?? defaultStateDir(), instance, runId);
    } catch (err) {
      sessions.close();
      throw new SnakepitError("config_invalid", (err as Error).message, { details: { field: "instance" } });
    }
    pit = new Snakepit(runId, bus, sessions, hooks, registry, instance);
    bus.on("worker.spawned", (e) => registry.add(e.worker, e.pid));
    bus.on("worker.exited", (e) => registry.remove(e.worker));
    let initialControl: TelemetryControlInput | undefined;
    const env = { ...hostEnv(), ...shmWorkerEnv() };
    delete env.SNAKEPIT_TOKEN; // the server's secret is no business of Python code
    const bridgeDir = getBridgeDir();
    try {
      const telemetry = setUpTelemetry(options.telemetry ?? {}, hooks.logSink, {
        bus,
        pools: () => pit!.#pools,
        pool: (name) => pit!.#pool(name),
        sessions: () => sessions.size,
      });
      pit.logger = telemetry.logger;
      pit.telemetry = telemetry.api;
      initialControl = telemetry.initialControl;
      await registry.sweepDeadRuns();
      const checks: Promise<void>[] = [];
      for (const input of configs) {
        const { python, config } = await preparePool(input, { bus, bridgeDir, env });
        checks.push(checkThreadSafety(config, python, { bus, bridgeDir, env }));
        const pool = new Pool(config, { runId, instance, python, bridgeDir, env, bus, inbound: (p, w) => createHostHandlers({ bus, registry: pit!.#registry, pool: p.name, worker: w.id }) });
        pit.#pools.set(config.name, pool);
      }
      await Promise.all([...[...pit.#pools.values()].map((p) => p.start()), ...checks]);
      pit.#gpuProfiler = await startGpuProfiler(bus, configs.map((c) => c.gpuSampleIntervalMs), env);
      if (initialControl) await pit.telemetry.configure(initialControl);
    } catch (err) {
      await pit.close();
      throw SnakepitError.from(err);
    }
    return pit;
  }

  /**
   * Start, run `fn`, and always close, even when `fn` throws (the seed's run_as_script).
   *
   * @example
   * ```ts
   * const sum = await Snakepit.runScript((pit) => pit.execute("add", { a: 1, b: 2 }), { adapter: "./examples/adapters/demo.py" });
   * ```
   */
  static async runScript<T>(fn: (pit: Snakepit) => Promise<T> | T, options: SnakepitOptions, hooks?: StartHooks): Promise<T> {
    const pit = await Snakepit.start(options, hooks);
    try {
      return await fn(pit);
    } finally {
      await pit.close();
    }
  }

  #sessionEnded(session: Session): void {
    this.#registry.dropSession(session.id);
    for (const [pool, worker] of Object.entries(session.workers)) this.#pools.get(pool)?.dropSession(session.id, worker);
  }

  #pool(name: string | undefined): Pool {
    if (this.#closing) throw new SnakepitError("pool_closed", "This Snakepit is closed");
    const pool = name === undefined ? this.#pools.values().next().value : this.#pools.get(name);
    if (!pool) {
      throw new SnakepitError("invalid_argument", `No pool named "${name}" (pools: ${[...this.#pools.keys()].join(", ")})`, {
        details: { field: "pool" },
      });
    }
    return pool;
  }

  /** Call a tool and return its result. */
  execute<T = unknown>(tool: string, args: Record<string, unknown> = {}, options: CallOptions = {}): Promise<T> {
    let pool: Pool;
    try {
      checkCall(tool, args, options.affinity);
      pool = this.#pool(options.pool);
    } catch (err) {
      return Promise.reject(err);
    }
    if (options.sessionId === undefined) return pool.execute(tool, args, options).then((r) => r.result as T);
    return this.#executeInSession<T>(pool, tool, args, options, options.sessionId);
  }

  async #executeInSession<T>(pool: Pool, tool: string, args: Record<string, unknown>, options: CallOptions, sessionId: string): Promise<T> {
    const session = this.sessions.forCall(sessionId);
    session.inFlight++;
    try {
      const { result } = await this.#withRehydrate(pool, session, () => pool.execute(tool, args, options, session));
      session.stats.calls++;
      return result as T;
    } catch (err) {
      session.stats.errors++;
      throw err;
    } finally {
      session.stats.lastCallAt = Date.now();
      this.#callEnded(session);
    }
  }

  /** A session's call ended; if the session ended meanwhile, its state may have been re-created. */
  #callEnded(session: Session): void {
    session.inFlight--;
    if (session.ended && session.inFlight === 0) this.#sessionEnded(session);
  }

  /** When a strict session lost its worker: unpin, rehydrate through the hook if any, else fail. */
  async #withRehydrate<T>(pool: Pool, session: Session | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const e = SnakepitError.from(err);
      if (e.code !== "session_worker_lost" || !session || session.workers[pool.name] !== e.details.worker) throw e;
      // The error is reported (or handled) once; the session's next call starts on a new worker.
      delete session.workers[pool.name];
      if (!this.#hooks.rehydrate) throw e;
      await this.#hooks.rehydrate({ sessionId: session.id, pool: pool.name, lostWorker: String(e.details.worker), session: this.session(session.id) });
      return await call();
    }
  }

  /** Stream a tool's chunks. Breaking out of the loop cancels the call in Python. */
  stream<T = unknown>(tool: string, args: Record<string, unknown> = {}, options: CallOptions = {}): AsyncGenerator<T, void, undefined> {
    checkCall(tool, args, options.affinity);
    const pool = this.#pool(options.pool);
    if (options.sessionId === undefined) return pool.stream(tool, args, options) as AsyncGenerator<T, void, undefined>;
    const session = this.sessions.forCall(options.sessionId);
    session.stats.calls++;
    session.inFlight++;
    const inner = pool.stream(tool, args, options, session);
    const callEnded = () => this.#callEnded(session);
    return (async function* () {
      try {
        yield* inner;
      } finally {
        callEnded();
      }
    })() as AsyncGenerator<T, void, undefined>;
  }

  /** Callback form of `stream` (the seed's execute_stream); resolves when the stream ends. */
  async executeStream<T = unknown>(
    tool: string,
    args: Record<string, unknown>,
    onChunk: (chunk: T) => void | Promise<void>,
    options: CallOptions = {},
  ): Promise<void> {
    for await (const chunk of this.stream<T>(tool, args, options)) await onChunk(chunk);
  }

  /**
   * A session handle (created now if it does not exist): calls through it share a worker
   * (by the pool's affinity) and a Python-side `ctx.state`.
   */
  session(id: string, options: CreateSessionOptions = {}): SessionHandle {
    this.sessions.create(id, options);
    return {
      id,
      execute: (tool, args, opts) => this.execute(tool, args, { ...opts, sessionId: id }),
      stream: (tool, args, opts) => this.stream(tool, args, { ...opts, sessionId: id }),
      tools: { register: (name, definition) => this.tools.register(name, definition, { sessionId: id }) },
      info: () => this.sessions.get(id),
      close: () => this.sessions.delete(id),
    };
  }

  /** Names of the pools. */
  get poolNames(): string[] {
    return [...this.#pools.keys()];
  }

  /** Every worker of every pool. */
  listWorkers(): WorkerInfo[] {
    return [...this.#pools.values()].flatMap((p) => p.listWorkers());
  }

  /** Replace a worker without failing a call (drain, stop, start anew); returns the new worker's id. */
  recycleWorker(workerId: string): Promise<string> {
    for (const pool of this.#pools.values()) {
      if (pool.workers.some((w) => w.id === workerId)) return pool.recycle(workerId);
    }
    return Promise.reject(new SnakepitError("not_found", `No worker "${workerId}" (workers: ${this.listWorkers().map((w) => w.id).join(", ")})`, {
      details: { worker: workerId },
    }));
  }

  /** Figures of every pool, and their sums. */
  stats(): SnakepitStats {
    const pools: Record<string, PoolStatsSnapshot> = {};
    const total = { workers: 0, queued: 0, inFlight: 0, requests: 0, completed: 0, failed: 0 };
    for (const [name, pool] of this.#pools) {
      const s = (pools[name] = pool.snapshot());
      total.workers += s.workers;
      total.queued += s.queued;
      total.inFlight += s.inFlight;
      total.requests += s.requests;
      total.completed += s.completed;
      total.failed += s.failed;
    }
    return { pools, ...total, sessions: this.sessions.size };
  }

  /** Subscribe to an event; returns the unsubscribe function. */
  on<K extends EventName>(name: K, handler: (data: SnakepitEvents[K]) => void): () => void {
    return this.#bus.on(name, handler);
  }

  /** Internal: the pool objects (API, tests). Not semver. */
  get pools(): ReadonlyMap<string, Pool> {
    return this.#pools;
  }

  /**
   * Health of every pool: ready workers, crashes in the rolling window, circuit state.
   * `ready` is what /readyz reports: every pool has a ready worker and is healthy.
   */
  health(): { ready: boolean; pools: Array<{ name: string; ready: number; healthy: boolean; recentCrashes: number; circuit: string }> } {
    const pools = [...this.#pools.values()].map((p) => ({
      name: p.name,
      ready: p.workers.filter((w) => w.state === "ready").length,
      healthy: p.health.isHealthy,
      recentCrashes: p.health.recentCrashes,
      circuit: p.guard.breaker.state,
    }));
    return { ready: pools.length > 0 && pools.every((p) => p.ready > 0 && p.healthy), pools };
  }

  /**
   * Kill what should not be running: workers left by dead earlier runs of this instance, and
   * any process of this run that is not a live worker (the seed's cleanup). Returns the pids killed.
   */
  async cleanup(): Promise<number[]> {
    const killed = await this.#processes.sweepDeadRuns();
    const live = new Set(this.listWorkers().map((w) => w.pid));
    for (const pid of pidsWithRunId(this.runId)) {
      if (live.has(pid)) continue;
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      killed.push(pid);
    }
    return killed;
  }

  /** Stop every pool: queued calls fail, in-flight calls get the grace period. Idempotent. */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= (async () => {
      this.sessions.close();
      await Promise.all([...[...this.#pools.values()].map((p) => p.close(options)), this.#gpuProfiler?.stop()]);
      this.#processes.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

const AFFINITY = new Set(["hint", "strict_queue", "strict_fail_fast"]);

function checkCall(tool: unknown, args: unknown, affinity: unknown): void {
  if (typeof tool !== "string" || tool.length === 0) {
    throw new SnakepitError("invalid_argument", `tool must be a non-empty string, got ${JSON.stringify(tool)}`, { details: { field: "tool" } });
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new SnakepitError("invalid_argument", `args of "${tool}" must be an object of named arguments`, { details: { field: "args" } });
  }
  if (affinity !== undefined && !AFFINITY.has(affinity as string)) {
    throw new SnakepitError("invalid_argument", `affinity must be hint, strict_queue or strict_fail_fast, got ${JSON.stringify(affinity)}`, { details: { field: "affinity" } });
  }
}

export type { AffinityMode };

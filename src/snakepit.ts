/**
 * The composition root and public facade: builds bus → telemetry → registry → pools, then
 * routes calls, streams and sessions to them.
 */

import { runBatch } from "./call/batch.ts";
import { parseSessionConfig, type SnakepitOptions } from "./config/parse.ts";
import { SnakepitError } from "./errors.ts";
import { checkCall, newRunId, poolConfigs } from "./facade/checks.ts";
import { createToolsApi, healthOf, type HealthReport, recycleIn, sessionHandle, totals } from "./facade/parts.ts";
import { killStrays } from "./facade/strays.ts";
import { setUpTelemetry } from "./facade/telemetry-setup.ts";
import type { BatchCall, BatchResult, CallOptions, SessionHandle, SnakepitStats, StartHooks, ToolsApi } from "./facade/types.ts";
import type { Pool } from "./pool/pool.ts";
import { stateDir as defaultStateDir } from "./config/paths.ts";
import type { ProcessRegistry } from "./registry/process-registry.ts";
import { buildPools, openProcessRegistry, startPools } from "./facade/compose.ts";
import { hostEnv } from "./runtime/process.ts";
import type { AffinityMode } from "./session/affinity.ts";
import { type CreateSessionOptions, SessionManager } from "./session/sessions.ts";
import type { Session } from "./session/store.ts";
import { EventBus, type EventName, type SnakepitEvents } from "./telemetry/bus.ts";
import type { TelemetryApi } from "./telemetry/api.ts";
import type { TelemetryControlInput } from "./telemetry/control.ts";
import type { Logger } from "./telemetry/logger.ts";
import { createHostHandlers } from "./tools/host-handlers.ts";
import { ToolRegistry } from "./tools/registry.ts";
import type { WorkerInfo } from "./worker/link.ts";
import { getBridgeDir } from "./worker/python.ts";
import { type DetectOptions, detectHardware } from "./hardware/detect.ts";
import { type GpuProfiler, startGpuProfiler } from "./hardware/profiler.ts";
import type { HardwareInfo } from "./hardware/types.ts";
import { type ClusterNode, connectCluster, isLocalCall, joinCluster } from "./cluster/join.ts";

export type { BatchCall, BatchResult, CallOptions, RehydrateContext, SessionHandle, SnakepitStats, StartHooks, ToolsApi } from "./facade/types.ts";

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
  readonly #processes: ProcessRegistry;
  readonly instance: string;
  /** This node's cluster membership, when started with `cluster` (docs/cluster.md). */ cluster: ClusterNode | undefined;
  #closing: Promise<void> | undefined;
  #gpuProfiler: GpuProfiler | undefined;

  private constructor(runId: string, bus: EventBus, sessions: SessionManager, registry: ProcessRegistry, instance: string) {
    this.runId = runId;
    this.instance = instance;
    this.#processes = registry;
    this.#bus = bus;
    this.sessions = sessions;
    this.tools = createToolsApi(this.#registry, sessions, () => this.#pools, (name) => this.#pool(name));
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
    const configs = poolConfigs(options);
    const sessionConfig = parseSessionConfig(options.sessions);
    const bus = new EventBus();
    for (const [name, handler] of Object.entries(hooks.on ?? {})) bus.on(name as EventName, handler as (data: unknown) => void);
    let pit: Snakepit | undefined;
    const sessions = new SessionManager(sessionConfig, {
      bus,
      // On end, and again when its last running call ends: drop the session's state everywhere.
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
      registry = openProcessRegistry(options.stateDir ?? defaultStateDir(), instance, runId);
    } catch (err) {
      sessions.close();
      throw err;
    }
    pit = new Snakepit(runId, bus, sessions, registry, instance);
    bus.on("worker.spawned", (e) => registry.add(e.worker, e.pid));
    bus.on("worker.exited", (e) => registry.remove(e.worker));
    let initialControl: TelemetryControlInput | undefined;
    const env = hostEnv();
    delete env.SNAKEPIT_TOKEN; // the server's secret is no business of Python code
    delete env.SNAKEPIT_TOKEN_FILE;
    Object.assign(env, registry.workerEnv()); // where workers contain what they start (SECURITY.md)
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
      const host = (pool: string, worker: string) => createHostHandlers({ bus, registry: pit!.#registry, pool, worker });
      const rehydrate = hooks.rehydrate && (async (lease: { id: string }, pool: string, lostWorker: string) => void (await hooks.rehydrate!({ sessionId: lease.id, pool, lostWorker, session: pit!.session(lease.id) })));
      const checks = await buildPools(configs, { runId, instance, bus, env, bridgeDir, host, rehydrate }, pit.#pools);
      pit.#gpuProfiler = await startPools(pit.#pools.values(), checks, () => startGpuProfiler(bus, configs.map((c) => c.gpuSampleIntervalMs), env));
      if (initialControl) await pit.telemetry.configure(initialControl);
      if (options.cluster !== undefined) pit.cluster = await joinCluster(options.cluster, pit, { bus, rehydrate: hooks.rehydrate });
    } catch (err) {
      await pit.close();
      throw SnakepitError.from(err);
    }
    return pit;
  }

  /** A client-only handle on a cluster: runs no workers, calls its nodes (`await using c = await Snakepit.connect({ cluster: url })`). */ static readonly connect = connectCluster;
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
    let lease;
    try {
      checkCall(tool, args, options.affinity);
      if (this.cluster && !isLocalCall(options)) return this.cluster.execute(tool, args, options) as Promise<T>;
      pool = this.#pool(options.pool);
      if (options.sessionId !== undefined) lease = this.sessions.lease(options.sessionId);
    } catch (err) {
      return Promise.reject(err);
    }
    return pool.executeValue(tool, args, options, lease) as Promise<T>;
  }

  /**
   * Run many calls, at most `concurrency` at a time; each item gets its result or its typed error,
   * in the order of `calls`.
   *
   * @example
   * ```ts
   * const out = await pit.executeBatch([{ tool: "add", args: { a: 1, b: 2 } }, { tool: "nope" }], { concurrency: 4 });
   * // [{ ok: true, value: 3 }, { ok: false, error: SnakepitError(tool_not_found) }]
   * ```
   */
  executeBatch<T = unknown>(calls: readonly BatchCall[], options: { concurrency?: number } = {}): Promise<Array<BatchResult<T>>> {
    const concurrency = options.concurrency ?? Math.max(1, this.stats().workers);
    return runBatch<CallOptions, T>(calls, concurrency, (c) => this.execute<T>(c.tool, c.args ?? {}, c.options ?? {}));
  }

  /** Stream a tool's chunks. Breaking out of the loop cancels the call in Python. */
  stream<T = unknown>(tool: string, args: Record<string, unknown> = {}, options: CallOptions = {}): AsyncGenerator<T, void, undefined> {
    checkCall(tool, args, options.affinity);
    if (this.cluster && !isLocalCall(options)) return this.cluster.stream(tool, args, options) as AsyncGenerator<T, void, undefined>;
    const pool = this.#pool(options.pool);
    const sessionId = options.sessionId;
    if (sessionId === undefined) return pool.stream(tool, args, options) as AsyncGenerator<T, void, undefined>;
    this.sessions.forCall(sessionId); // an unknown session fails here, at once
    return pool.stream(tool, args, options, () => this.sessions.lease(sessionId)) as AsyncGenerator<T, void, undefined>;
  }

  /** Callback form of `stream` (the seed's execute_stream); resolves when the stream ends. */
  async executeStream<T = unknown>(tool: string, args: Record<string, unknown>, onChunk: (chunk: T) => void | Promise<void>, options: CallOptions = {}): Promise<void> {
    for await (const chunk of this.stream<T>(tool, args, options)) await onChunk(chunk);
  }

  /**
   * A session handle (created now if it does not exist): calls through it share a worker
   * (by the pool's affinity) and a Python-side `ctx.state`.
   */
  session(id: string, options: CreateSessionOptions = {}): SessionHandle {
    this.sessions.create(id, options);
    return sessionHandle(id, this.sessions, this);
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
    return recycleIn(this.#pools.values(), workerId);
  }

  /** Figures of every pool, and their sums. */
  stats(): SnakepitStats {
    return totals(this.#pools, this.sessions.size);
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
   * `ready` is what /readyz reports: every pool has a ready worker and is healthy. Reading it changes nothing.
   */
  health(): HealthReport {
    return healthOf(this.#pools.values());
  }

  /**
   * Kill what should not be running: workers left by dead earlier runs of this instance, and
   * any process of this run that is neither a live worker nor a pool's template (the seed's cleanup). Returns the pids killed.
   */
  async cleanup(): Promise<number[]> {
    const killed = await this.#processes.sweepDeadRuns();
    const templates = [...this.#pools.values()].map((p) => p.templatePid() ?? 0);
    killed.push(...killStrays(this.runId, new Set([...this.listWorkers().map((w) => w.pid), ...templates])));
    return killed;
  }

  /** Stop every pool: queued calls fail, in-flight calls get the grace period. Idempotent. */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= (async () => {
      await this.cluster?.close(options);
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

export type { AffinityMode };

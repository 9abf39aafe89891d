/**
 * A pool of workers running one adapter: concurrent start in batches, least-loaded dispatch
 * (with session affinity), replacement of crashed workers, graceful recycling, staged shutdown.
 */

import type { InboundHandlers } from "../bridge/channel.ts";
import { innerTimeoutMs, TIMEOUT_PROFILES, type TimeoutProfile } from "../config/profiles.ts";
import type { PoolConfig } from "../config/schema.ts";
import { SnakepitError } from "../errors.ts";
import type { Session } from "../session/store.ts";
import type { EventBus } from "../telemetry/bus.ts";
import type { CrashInfo } from "../resilience/crash.ts";
import { type CallOptions, type CallResult, type ToolSpec, Worker } from "../worker/worker.ts";
import { HealthMonitor } from "../resilience/health.ts";
import { sleep } from "../resilience/backoff.ts";
import { Supervisor } from "./supervisor.ts";
import { rssBytes } from "../runtime/procfs.ts";
import { type AffinityMode, place } from "./affinity.ts";
import { chooseDevice } from "./devices.ts";
import { deviceList, workerEnv } from "../hardware/worker-env.ts";
import { threadEnv } from "../hardware/threads.ts";
import { CallGuard } from "./guard.ts";
import { endSpan, startCallSpan, startWorkerSpan, traceparentOf } from "../telemetry/tracing.ts";
import type { TelemetryControl } from "../telemetry/control.ts";
import { Dispatcher, type Want } from "./dispatcher.ts";
import { type ForkServer, startPreload } from "../worker/fork-server.ts";
import { leastLoaded } from "./select.ts";
import { PoolStats, type PoolStatsSnapshot } from "./stats.ts";

/** Per-call options at the pool level. */
export interface ExecuteOptions {
  /** Total budget for the call, queue wait included. Default: the pool's timeout profile. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Session affinity for this call. Default: the pool's `affinity`. */
  affinity?: AffinityMode | undefined;
  metadata?: Record<string, string> | undefined;
  traceparent?: string | undefined;
  correlationId?: string | undefined;
  /** Safe to run again: retried on another worker if this one crashes (crash barrier). */
  idempotent?: boolean | undefined;
  /** Marks the call idempotent and reaches Python as metadata "idempotency-key", for deduplication. */
  idempotencyKey?: string | undefined;
}

/** What a pool needs from its owner. */
export interface PoolDeps {
  runId: string;
  instance: string;
  python: string;
  bridgeDir: string;
  env: Record<string, string>;
  bus: EventBus;
  inbound: (pool: Pool, worker: Worker) => InboundHandlers;
}

/** A worker as `listWorkers()` shows it. */
export interface WorkerInfo {
  id: string;
  pool: string;
  pid: number;
  state: string;
  inFlight: number;
  capacity: number;
  requests: number;
  uptimeMs: number;
  device?: string | undefined;
  rssBytes?: number | undefined;
  /** The thread limits its math libraries got (OMP_NUM_THREADS, ...). */
  threadLimits?: Record<string, string> | undefined;
}

export class Pool {
  readonly name: string;
  readonly config: PoolConfig;
  readonly timeouts: TimeoutProfile;
  readonly workers: Worker[] = [];
  readonly stats = new PoolStats();
  readonly health: HealthMonitor;
  readonly guard: CallGuard;
  readonly #deps: PoolDeps;
  #forkServer: ForkServer | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #supervisor: Supervisor;
  #calls = 0;
  /** Workers being recycled: their replacement is already started. */
  readonly #retiring = new Set<string>();
  #telemetryControl: TelemetryControl | undefined;
  #nextWorker = 1;
  #rr = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #stopSignal = new AbortController();
  readonly #pendingStarts = new Set<Promise<unknown>>();

  constructor(config: PoolConfig, deps: PoolDeps) {
    this.name = config.name;
    this.config = config;
    this.#deps = deps;
    const profile = TIMEOUT_PROFILES[config.timeoutProfile];
    this.timeouts = {
      executeTimeoutMs: config.executeTimeoutMs ?? profile.executeTimeoutMs,
      streamTimeoutMs: config.streamTimeoutMs ?? profile.streamTimeoutMs,
      queueTimeoutMs: config.queueTimeoutMs ?? profile.queueTimeoutMs,
    };
    this.#dispatcher = new Dispatcher(this.name, () => ({ maxQueue: config.maxQueue, queueTimeoutMs: this.timeouts.queueTimeoutMs }), this.stats);
    this.health = new HealthMonitor(config.health);
    this.guard = new CallGuard(this.name, config, deps.bus);
    const pool = this;
    this.#supervisor = new Supervisor({
      name: this.name,
      config,
      stats: this.stats,
      health: this.health,
      bus: deps.bus,
      get workers() {
        return pool.workers;
      },
      get stopSignal() {
        return pool.#stopSignal.signal;
      },
      get isClosed() {
        return pool.#closed;
      },
      spawn: () => this.#spawn(),
      recycle: (id) => this.recycle(id),
    });
  }

  /** Tools of this pool's adapter, as its first ready worker reported them. */
  get tools(): ToolSpec[] {
    return this.workers.find((w) => w.state === "ready")?.tools ?? [];
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Start every worker, `startupBatchSize` at a time. Fails (and cleans up) if any cannot start. */
  async start(): Promise<void> {
    const t0 = performance.now();
    const { poolSize, startupBatchSize, startupBatchDelayMs } = this.config;
    try {
      this.#forkServer = await startPreload(this.config, this.#deps);
      for (let started = 0; started < poolSize; started += startupBatchSize) {
        if (started > 0 && startupBatchDelayMs > 0) await sleep(startupBatchDelayMs, this.#stopSignal.signal);
        const batch = Math.min(startupBatchSize, poolSize - started);
        const results = await Promise.allSettled(Array.from({ length: batch }, () => this.#spawn()));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
      }
    } catch (err) {
      await this.close({ graceMs: 0 });
      throw err;
    }
    this.#deps.bus.emit("pool.ready", { pool: this.name, workers: this.workers.length, durationMs: performance.now() - t0 });
    this.#supervisor.start();
  }

  async #spawn(): Promise<Worker> {
    const id = `${this.name}-${this.#nextWorker++}`;
    const c = this.config;
    const device = chooseDevice(deviceList(c), this.workers.map((w) => w.device ?? ""), this.#supervisor.taints, Date.now());
    let inbound: InboundHandlers | undefined;
    const worker: Worker = new Worker(
      {
        id,
        python: this.#deps.python,
        adapter: c.adapter,
        bridgeDir: this.#deps.bridgeDir,
        env: { ...this.#deps.env, ...c.env, ...workerEnv(c, device), SNAKEPIT_RUN_ID: this.#deps.runId, SNAKEPIT_POOL: this.name, SNAKEPIT_WORKER_ID: id },
        cwd: c.cwd,
        pythonArgs: c.pythonArgs,
        capacity: c.workerProfile === "thread" ? c.threadsPerWorker : 1,
        runId: this.#deps.runId,
        instance: this.#deps.instance,
        device,
        heartbeat: c.heartbeat,
        startupTimeoutMs: c.startupTimeoutMs,
        cancelGraceMs: c.cancelGraceMs,
        logLevel: c.logLevel,
        spawn: this.#forkServer && ((cmd, o) => this.#forkServer!.spawn(cmd, o)),
      },
      {
        onSpawn: (w) => this.#deps.bus.emit("worker.spawned", { pool: this.name, worker: w.id, pid: w.pid }),
        onExit: (w, status, expected, crash, wasReady) => this.#onExit(w, status.exitCode, status.signal, expected, crash, wasReady),
        onLog: (w, line) => this.#deps.bus.emit("worker.log", { pool: this.name, worker: w.id, line }),
        onIdle: (w) => this.#onIdle(w),
        get inbound() {
          return inbound!;
        },
      },
    );
    inbound = this.#deps.inbound(this, worker);
    this.workers.push(worker);
    const t0 = performance.now();
    const starting = worker.start(this.#stopSignal.signal);
    this.#pendingStarts.add(starting);
    try {
      await starting;
    } catch (err) {
      this.#remove(worker);
      throw err;
    } finally {
      this.#pendingStarts.delete(starting);
    }
    if (this.#closed) {
      await worker.stop(0);
      throw new SnakepitError("pool_closed", `Pool "${this.name}" closed while worker "${id}" started`);
    }
    this.#deps.bus.emit("worker.started", { pool: this.name, worker: id, pid: worker.pid, durationMs: performance.now() - t0 });
    if (this.#telemetryControl) worker.control("ConfigureTelemetry", { ...this.#telemetryControl }).catch(() => {});
    this.#dispatcher.feed(worker);
    return worker;
  }

  #remove(worker: Worker): void {
    const i = this.workers.indexOf(worker);
    if (i >= 0) this.workers.splice(i, 1);
  }

  #onExit(worker: Worker, exitCode: number | null, signal: string | null, expected: boolean, crash: CrashInfo | undefined, wasReady: boolean): void {
    this.#remove(worker);
    this.#deps.bus.emit("worker.exited", { pool: this.name, worker: worker.id, pid: worker.pid, exitCode, signal, expected, crash });
    if (!wasReady) return; // a failed start: its caller reports it
    this.#dispatcher.failPinned(worker.id, () => new SnakepitError(
      "session_worker_lost",
      `Worker "${worker.id}" holding this call's session is gone; its session state is lost`,
      { details: { pool: this.name, worker: worker.id } },
    ));
    const retiring = this.#retiring.delete(worker.id);
    if (expected || this.#closed) return;
    // A worker being recycled already has its replacement.
    this.#supervisor.crashed(worker, !retiring);
  }

  #onIdle(worker: Worker): void {
    const max = this.config.lifecycle.workerMaxRequests;
    if (max !== undefined && worker.requests >= max && worker.state === "ready") {
      void this.#supervisor.recycleFor(worker, "max_requests");
      return;
    }
    this.#dispatcher.feed(worker);
  }

  #pick(prefetch: boolean): Worker | undefined {
    let w = leastLoaded(this.workers, this.#rr);
    if (!w && prefetch && this.config.prefetch > 0) {
      const { prefetch: depth, prefetchMaxServiceMs: maxMs } = this.config;
      w = leastLoaded(this.workers, this.#rr, (x) => x.canPrefetch(depth, maxMs), true);
    }
    if (w) this.#rr = (this.#rr + 1) % Math.max(1, this.workers.length);
    return w;
  }

  /** Where a call goes, given its session and affinity; throws for strict-mode failures. */
  #want(session: Session | undefined, mode: AffinityMode, prefetch: boolean): Want {
    if (!session) return { pick: () => this.#pick(prefetch) };
    const placement = place(this.workers, session.workers[this.name], mode, session.id);
    switch (placement.kind) {
      case "any":
        return { pick: () => this.#pick(prefetch) };
      case "run":
      case "wait":
        return { pick: () => undefined, only: placement.worker };
      case "fail":
        throw placement.error;
      case "lost":
        this.#deps.bus.emit("session.worker_lost", { session: session.id, pool: this.name, worker: placement.workerId });
        throw new SnakepitError(
          "session_worker_lost",
          `Session "${session.id}" was pinned to worker "${placement.workerId}", which is gone; its state is lost (affinity ${mode})`,
          { details: { session: session.id, pool: this.name, worker: placement.workerId } },
        );
    }
  }

  /** Remember where a session's state lives; a hint-mode move tells the old worker to drop it. */
  #pin(session: Session | undefined, worker: Worker): void {
    if (!session) return;
    const previous = session.workers[this.name];
    if (previous === worker.id) return;
    session.workers[this.name] = worker.id;
    if (previous) this.dropSession(session.id, previous);
  }

  /** Apply a telemetry control to every worker (or one), now and to workers started later. */
  async configureTelemetry(control: TelemetryControl, workerId?: string): Promise<void> {
    if (workerId === undefined) this.#telemetryControl = control;
    const targets = this.workers.filter((w) => w.state === "ready" && (workerId === undefined || w.id === workerId));
    await Promise.all(targets.map((w) => w.control("ConfigureTelemetry", { ...control })));
  }

  /** The telemetry control workers of this pool run with (undefined: the default, all on). */
  get telemetryControl(): TelemetryControl | undefined {
    return this.#telemetryControl;
  }

  /** Tell a worker (or every worker) to drop a session's Python state. */
  dropSession(sessionId: string, workerId?: string): void {
    for (const w of this.workers) {
      if ((workerId === undefined || w.id === workerId) && w.state === "ready") {
        w.control("CleanupSession", { sessionId }).catch(() => {});
      }
    }
  }

  #callOptions(deadline: number, options: ExecuteOptions, session: Session | undefined): CallOptions {
    const remaining = deadline - performance.now();
    const metadata = options.idempotencyKey ? { ...options.metadata, "idempotency-key": options.idempotencyKey } : options.metadata;
    return {
      signal: options.signal,
      timeoutMs: Number.isFinite(remaining) ? remaining : undefined,
      innerTimeoutMs: Number.isFinite(remaining) ? innerTimeoutMs(remaining) : undefined,
      sessionId: session?.id,
      metadata,
      traceparent: options.traceparent,
      correlationId: options.correlationId,
    };
  }

  #closedError(): SnakepitError {
    return new SnakepitError("pool_closed", `Pool "${this.name}" is closed`);
  }

  /** What every call does first: refuse when closed, fix its deadline and id, count it, announce it. */
  #begin(tool: string, budgetMs: number, options: ExecuteOptions, session: Session | undefined): { t0: number; deadline: number; correlationId: string } {
    if (this.#closed) throw this.#closedError();
    const t0 = performance.now();
    const correlationId = options.correlationId ?? `${this.#deps.runId}-${(this.#calls++).toString(36)}`;
    this.stats.requests++;
    const bus = this.#deps.bus;
    if (bus.has("call.start")) bus.emit("call.start", { pool: this.name, tool, correlationId, sessionId: session?.id });
    return { t0, deadline: t0 + budgetMs, correlationId };
  }

  /** Execute a tool on the least-loaded worker (or the session's worker). */
  execute(tool: string, args: Record<string, unknown>, options: ExecuteOptions = {}, session?: Session): Promise<CallResult> {
    let begun: { t0: number; deadline: number; correlationId: string };
    try {
      begun = this.#begin(tool, options.timeoutMs ?? this.timeouts.executeTimeoutMs, options, session);
    } catch (err) {
      return Promise.reject(err);
    }
    const { t0, deadline, correlationId } = begun;
    const bus = this.#deps.bus;
    const span = startCallSpan(tool, this.name, options.traceparent);
    let worker: Worker | undefined;
    let queueMs = 0;
    const mode = options.affinity ?? this.config.affinity;
    // One promise chain per call: this sits on the hot path, every extra hop shows in throughput.
    const attempt = (): Promise<CallResult> => {
      if (this.#closed) throw this.#closedError();
      const enqueued = performance.now();
      return this.#dispatcher.dispatch(deadline - enqueued, options.signal, this.#want(session, mode, true), (w) => {
        worker = w;
        queueMs = performance.now() - enqueued;
        this.#pin(session, w);
        const callOptions = this.#callOptions(deadline, options, session);
        callOptions.correlationId = correlationId;
        // Without a tracing SDK the call span is a no-op: skip the child span and its context.
        if (!span.isRecording()) {
          callOptions.traceparent = traceparentOf(span) ?? options.traceparent;
          return w.execute(tool, args, callOptions);
        }
        const workerSpan = startWorkerSpan(span, tool, w.id);
        callOptions.traceparent = traceparentOf(workerSpan);
        return w.execute(tool, args, callOptions).then(
          (result) => {
            endSpan(workerSpan);
            return result;
          },
          (err: unknown) => {
            endSpan(workerSpan, err);
            throw err;
          },
        );
      });
    };
    const idempotent = options.idempotent === true || options.idempotencyKey !== undefined;
    return this.guard.run(attempt, { idempotent, signal: options.signal, deadline, tool }).then(
      (result) => {
        const durationMs = performance.now() - t0;
        this.stats.record(durationMs);
        endSpan(span);
        if (bus.has("call.stop")) {
          bus.emit("call.stop", { pool: this.name, worker: worker!.id, tool, durationMs, queueMs, pythonMs: result.durationUs / 1000, correlationId });
        }
        return result;
      },
      (err: unknown) => {
        this.stats.failed++;
        const e = SnakepitError.from(err);
        e.details.correlationId ??= correlationId;
        endSpan(span, e);
        if (bus.has("call.exception")) {
          bus.emit("call.exception", {
            pool: this.name, worker: worker?.id, tool, code: e.code, durationMs: performance.now() - t0, correlationId, pythonType: e.python?.type,
          });
        }
        throw e;
      },
    );
  }

  /** Stream a tool's chunks from the least-loaded worker (or the session's worker). */
  async *stream(tool: string, args: Record<string, unknown>, options: ExecuteOptions = {}, session?: Session): AsyncGenerator<unknown, void, undefined> {
    const budget = options.timeoutMs ?? this.timeouts.streamTimeoutMs;
    const { t0, deadline, correlationId } = this.#begin(tool, budget, options, session);
    const bus = this.#deps.bus;
    let ok = false;
    let workerId: string | undefined;
    let failure: SnakepitError | undefined;
    try {
      this.guard.breaker.assertNotOpen();
      const want = this.#want(session, options.affinity ?? this.config.affinity, false);
      const chunks = await this.#dispatcher.dispatch(budget, options.signal, want, (w) => {
        this.#pin(session, w);
        workerId = w.id;
        const callOptions = this.#callOptions(deadline, options, session);
        callOptions.correlationId = correlationId;
        return w.stream(tool, args, callOptions);
      });
      yield* chunks;
      ok = true;
    } catch (err) {
      failure = SnakepitError.from(err);
      throw failure;
    } finally {
      const durationMs = performance.now() - t0;
      if (ok) {
        this.stats.record(durationMs);
        if (bus.has("call.stop")) bus.emit("call.stop", { pool: this.name, worker: workerId ?? "", tool, durationMs, queueMs: 0, pythonMs: 0, correlationId });
      } else {
        this.stats.failed++;
        const code = failure?.code ?? "aborted";
        if (bus.has("call.exception")) {
          bus.emit("call.exception", { pool: this.name, worker: workerId, tool, code, durationMs, correlationId, pythonType: failure?.python?.type });
        }
      }
    }
  }

  /**
   * Replace a worker without failing a call: a new worker starts first, the old one takes no
   * new calls, finishes its running ones (up to the shutdown grace), then stops.
   */
  async recycle(workerId: string): Promise<string> {
    const old = this.workers.find((w) => w.id === workerId);
    if (!old) throw new SnakepitError("not_found", `Pool "${this.name}" has no worker "${workerId}"`, { details: { worker: workerId } });
    if (old.state !== "ready") {
      throw new SnakepitError("worker_unavailable", `Worker "${workerId}" is ${old.state}`, { details: { worker: workerId } });
    }
    old.state = "draining";
    this.#retiring.add(old.id);
    this.stats.recycles++;
    let fresh: Worker;
    try {
      fresh = await this.#spawn();
    } catch (err) {
      this.#retiring.delete(old.id);
      if (old.state === "draining") old.state = "ready";
      this.#dispatcher.feed(old);
      throw err;
    }
    await old.drain(this.config.shutdownGraceMs);
    await old.stop(this.config.cancelGraceMs);
    this.#retiring.delete(old.id);
    return fresh.id;
  }

  /** Workers as plain records. */
  listWorkers(): WorkerInfo[] {
    const now = Date.now();
    return this.workers.map((w) => ({
      id: w.id,
      pool: this.name,
      pid: w.pid,
      state: w.state,
      inFlight: w.inFlight,
      capacity: w.capacity,
      requests: w.requests,
      uptimeMs: now - w.startedAt,
      device: w.device,
      rssBytes: rssBytes(w.pid) ?? w.lastBeat?.rssBytes,
      threadLimits: threadEnv(this.config),
    }));
  }

  /** Counters and current load. */
  snapshot(): PoolStatsSnapshot {
    return this.stats.snapshot({
      pool: this.name,
      workers: this.workers.length,
      ready: this.workers.filter((w) => w.state === "ready").length,
      busy: this.workers.filter((w) => w.inFlight > 0).length,
      inFlight: this.workers.reduce((n, w) => n + w.inFlight, 0),
      queued: this.#dispatcher.queued,
    });
  }

  /**
   * Close: queued calls fail with pool_closed, in-flight calls get `graceMs` to finish, then
   * workers are stopped in stages. Idempotent.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#supervisor.stop();
    const graceMs = options.graceMs ?? this.config.shutdownGraceMs;
    const closed = this.#closedError();
    this.#dispatcher.failAll(closed);
    this.#stopSignal.abort(closed);
    this.#closing = (async () => {
      await Promise.allSettled([...this.#pendingStarts]);
      await Promise.all([...this.workers].map((w) => w.stop(graceMs)));
      this.workers.length = 0;
      await this.#forkServer?.close();
      this.#deps.bus.emit("pool.closed", { pool: this.name });
    })();
    return this.#closing;
  }
}

/**
 * A pool of workers running one adapter: concurrent start in batches, least-loaded dispatch
 * (with session affinity), replacement of crashed workers, graceful recycling, staged shutdown.
 * Workers sit behind the `WorkerLink` seam; calls and streams run through `call/`.
 */

import { runStream } from "../call/stream.ts";
import { CallGuard } from "../call/guard.ts";
import type { CallHost, DispatchRequest, ExecuteOptions } from "../call/host.ts";
import { runUnary } from "../call/unary.ts";
import { TIMEOUT_PROFILES, type TimeoutProfile } from "../config/profiles.ts";
import type { PoolConfig } from "../config/schema.ts";
import { type Clock, realClock, sleepOn } from "../core/clock.ts";
import { SnakepitError } from "../errors.ts";
import { HealthMonitor } from "../resilience/health.ts";
import type { AffinityMode } from "../session/affinity.ts";
import type { SessionLease } from "../session/lease.ts";
import type { EventBus } from "../telemetry/bus.ts";
import type { TelemetryControl } from "../telemetry/control.ts";
import type { CallResult, ToolSpec, WorkerInfo, WorkerLink } from "../worker/link.ts";
import { deviceList } from "../hardware/worker-env.ts";
import { threadEnv } from "../hardware/threads.ts";
import { chooseDevice } from "./devices.ts";
import { Dispatcher } from "./dispatcher.ts";
import { Picker, want } from "./placement.ts";
import { PoolStats, type PoolStatsSnapshot } from "./stats.ts";
import { Supervisor } from "./supervisor.ts";
import type { WorkerFactory } from "./worker-factory.ts";
import { WorkerSet } from "./worker-set.ts";

export type { ExecuteOptions };

/** What a pool needs from its owner. */
export interface PoolDeps {
  runId: string;
  bus: EventBus;
  createWorker: WorkerFactory;
  /** @default the real clock */
  clock?: Clock;
  /** Rebuild a strict session's state after its worker was lost. */
  rehydrate?: ((lease: SessionLease, pool: string, lostWorker: string) => Promise<void>) | undefined;
  /** Runs once the workers are stopped, before `close()` resolves (a preload template's exit). */
  onClosed?: (() => Promise<void>) | undefined;
  /** The pid of the template its workers are forked from, while it runs (a process of the run). */
  templatePid?: (() => number | undefined) | undefined;
}

export class Pool implements CallHost {
  readonly name: string;
  readonly config: PoolConfig;
  readonly timeouts: TimeoutProfile;
  readonly stats = new PoolStats();
  readonly health: HealthMonitor;
  readonly guard: CallGuard;
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly affinity: AffinityMode;
  readonly streamStallMs: number;
  readonly rehydrate: CallHost["rehydrate"];
  /** The pid of the template this pool's workers are forked from, while it runs (see docs/preload.md). */
  readonly templatePid: () => number | undefined;
  readonly #set: WorkerSet;
  readonly #dispatcher: Dispatcher;
  readonly #picker: Picker;
  readonly #supervisor: Supervisor;
  readonly #idPrefix: string; // `runId-`, joined once: a template per call costs ~40 ns more
  readonly #onClosed: (() => Promise<void>) | undefined;
  #calls = 0;
  #closed = false;
  #draining = false;
  #closing: Promise<void> | undefined;
  readonly #stopSignal = new AbortController();

  constructor(config: PoolConfig, deps: PoolDeps) {
    this.name = config.name;
    this.config = config;
    this.bus = deps.bus;
    this.clock = deps.clock ?? realClock;
    this.#idPrefix = `${deps.runId}-`;
    this.#onClosed = deps.onClosed;
    this.templatePid = deps.templatePid ?? (() => undefined);
    this.affinity = config.affinity;
    this.streamStallMs = config.streamStallTimeoutMs;
    const rehydrate = deps.rehydrate;
    this.rehydrate = rehydrate && ((lease, lost) => rehydrate(lease, this.name, lost));
    const profile = TIMEOUT_PROFILES[config.timeoutProfile];
    this.timeouts = {
      executeTimeoutMs: config.executeTimeoutMs ?? profile.executeTimeoutMs,
      streamTimeoutMs: config.streamTimeoutMs ?? profile.streamTimeoutMs,
      queueTimeoutMs: config.queueTimeoutMs ?? profile.queueTimeoutMs,
    };
    this.#dispatcher = new Dispatcher(this.name, config, this.timeouts, this.stats, this.clock);
    this.health = new HealthMonitor(config.health, { isWhole: () => this.workers.filter((w) => w.state === "ready").length >= config.poolSize });
    this.guard = new CallGuard(this.name, config, deps.bus, {
      clock: this.clock,
      canServe: () => this.workers.some((w) => w.state === "ready"),
      isSaturated: () => !this.#closed && this.#dispatcher.queued >= config.maxQueue && !this.workers.some((w) => w.state === "ready" && w.hasCapacity),
    });
    this.#set = new WorkerSet(this, {
      create: deps.createWorker,
      dispatcher: this.#dispatcher,
      stopSignal: this.#stopSignal.signal,
      device: () => chooseDevice(deviceList(config), this.workers.map((w) => w.device ?? ""), this.#supervisor.taints, Date.now()),
      crashed: (worker, replace, duringCall) => this.#supervisor.crashed(worker, replace, duringCall),
      recycleFor: (worker, reason) => void this.#supervisor.recycleFor(worker, reason),
    });
    this.#picker = new Picker(this.#set.workers, config);
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
        return pool.isClosed;
      },
      spawn: () => this.#set.spawn(),
      recycle: (id) => this.recycle(id),
    });
  }

  /** The workers, through the seam. */
  get workers(): readonly WorkerLink[] {
    return this.#set.workers;
  }

  /** Tools of this pool's adapter, as its first ready worker reported them. */
  get tools(): readonly ToolSpec[] {
    return this.#set.tools;
  }

  /** True while the pool is drained: it takes no new calls; queued and running ones finish. */
  get isDraining(): boolean {
    return this.#draining;
  }

  /** Take no new calls until `resume()`; calls already queued or running go on. */
  drain(): void {
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    this.bus.emit("pool.draining", { pool: this.name, queued: this.#dispatcher.queued });
  }

  /** Take calls again after `drain()`. */
  resume(): void {
    if (!this.#draining) return;
    this.#draining = false;
    this.bus.emit("pool.resumed", { pool: this.name });
  }

  #drainingError(): SnakepitError {
    return new SnakepitError("worker_unavailable", `Pool "${this.name}" is drained: it takes no new calls until it is resumed`, { details: { pool: this.name, draining: true } });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Start every worker, `startupBatchSize` at a time. Fails (and cleans up) if any cannot start. */
  async start(): Promise<void> {
    const t0 = performance.now();
    const { poolSize, startupBatchSize, startupBatchDelayMs } = this.config;
    try {
      for (let started = 0; started < poolSize; started += startupBatchSize) {
        if (started > 0 && startupBatchDelayMs > 0) await sleepOn(this.clock, startupBatchDelayMs, this.#stopSignal.signal);
        const batch = Math.min(startupBatchSize, poolSize - started);
        const results = await Promise.allSettled(Array.from({ length: batch }, () => this.#set.spawn()));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
      }
    } catch (err) {
      await this.close({ graceMs: 0 });
      throw err;
    }
    this.bus.emit("pool.ready", { pool: this.name, workers: this.workers.length, durationMs: performance.now() - t0 });
    this.#supervisor.start();
  }

  closedError(): SnakepitError {
    return new SnakepitError("pool_closed", `Pool "${this.name}" is closed`);
  }

  newCorrelationId(): string {
    return this.#idPrefix + (this.#calls++).toString(36);
  }

  budgetMs(tool: string, streaming: boolean): number {
    return this.#set.toolTimeoutMs(tool) ?? (streaming ? this.timeouts.streamTimeoutMs : this.timeouts.executeTimeoutMs);
  }

  dispatch<T>(req: DispatchRequest, start: (worker: WorkerLink, queueMs: number) => T | Promise<T>): Promise<T> {
    let wanted;
    try {
      wanted = want(this.name, this.workers, this.#picker, req.lease, req.mode, req.prefetch, this.bus);
    } catch (err) {
      return Promise.reject(err);
    }
    const lease = req.lease;
    if (!lease) return this.#dispatcher.dispatch(req, req.signal, wanted, start, req.front, req);
    return this.#dispatcher.dispatch(req, req.signal, wanted, (w, queueMs) => {
      const previous = lease.bind(this.name, w.id); // a hint-mode move: the old worker drops the session's state
      if (previous) this.dropSession(lease.id, previous);
      return start(w, queueMs);
    }, req.front, req);
  }

  /** Execute a tool on the least-loaded worker (or the session's worker). */
  execute(tool: string, args: Record<string, unknown>, options: ExecuteOptions = {}, lease?: SessionLease): Promise<CallResult> {
    if (this.#draining) return Promise.reject(this.#drainingError());
    return runUnary(this, tool, args, options, lease);
  }

  /** `execute`, resolving with the tool's result alone (one object and one hop less per call). */
  executeValue(tool: string, args: Record<string, unknown>, options: ExecuteOptions = {}, lease?: SessionLease): Promise<unknown> {
    return this.#draining ? Promise.reject(this.#drainingError()) : runUnary(this, tool, args, options, lease, true);
  }

  /** Stream a tool's chunks from the least-loaded worker (or the session's worker). */
  stream(tool: string, args: Record<string, unknown>, options: ExecuteOptions = {}, lease?: SessionLease | (() => SessionLease)): AsyncGenerator<unknown, void, undefined> {
    if (this.#draining) {
      const err = this.#drainingError();
      return (async function* () {
        throw err;
      })();
    }
    return runStream(this, tool, args, options, lease);
  }

  /** Apply a telemetry control to every worker (or one), now and to workers started later. */
  configureTelemetry(control: TelemetryControl, workerId?: string): Promise<void> {
    return this.#set.configureTelemetry(control, workerId);
  }

  /** The telemetry control workers of this pool run with (undefined: the default, all on). */
  get telemetryControl(): TelemetryControl | undefined {
    return this.#set.telemetryControl;
  }

  /** Tell a worker (or every worker) to drop a session's Python state. */
  dropSession(sessionId: string, workerId?: string): void {
    for (const w of this.workers) {
      if ((workerId === undefined || w.id === workerId) && w.state === "ready") w.control("CleanupSession", { sessionId }).catch(() => {});
    }
  }

  /**
   * Replace a worker without failing a call: a new worker starts first, the old one takes no
   * new calls, finishes its running ones (up to the shutdown grace), then stops.
   */
  recycle(workerId: string): Promise<string> {
    this.stats.recycles++;
    return this.#set.recycle(workerId);
  }

  /** Workers as plain records. */
  listWorkers(): WorkerInfo[] {
    const threadLimits = threadEnv(this.config);
    return this.workers.map((w) => ({ ...w.info(this.name), threadLimits }));
  }

  /** Counters and current load. */
  snapshot(): PoolStatsSnapshot {
    let ready = 0;
    let busy = 0;
    let inFlight = 0;
    for (const w of this.workers) {
      if (w.state === "ready") ready++;
      if (w.inFlight > 0) busy++;
      inFlight += w.inFlight;
    }
    const t = this.templatePid();
    return this.stats.snapshot({ pool: this.name, workers: this.workers.length, ready, busy, inFlight, queued: this.#dispatcher.queued, requeued: this.guard.requeued, ...(t ? { templatePid: t } : {}) });
  }

  /**
   * Close: queued calls fail with pool_closed, in-flight calls get `graceMs` to finish, then
   * workers are stopped in stages. Idempotent.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    const closed = this.closedError();
    this.#supervisor.stop();
    this.#dispatcher.failAll(closed);
    this.#stopSignal.abort(closed);
    this.#closing = (async () => {
      await this.#set.close(options.graceMs ?? this.config.shutdownGraceMs);
      await this.#onClosed?.().catch(() => {});
      this.bus.emit("pool.closed", { pool: this.name });
    })();
    return this.#closing;
  }
}

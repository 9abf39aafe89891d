/**
 * A pool of workers running one adapter: concurrent start in batches, a FIFO queue with a
 * maximum and a timeout, least-loaded dispatch, replacement of crashed workers, staged shutdown.
 */

import type { InboundHandlers } from "../bridge/channel.ts";
import type { PoolConfig } from "../config/schema.ts";
import { innerTimeoutMs, TIMEOUT_PROFILES, type TimeoutProfile } from "../config/profiles.ts";
import { abortError, SnakepitError } from "../errors.ts";
import type { EventBus } from "../telemetry/bus.ts";
import { type CallOptions, type CallResult, type ToolSpec, Worker } from "../worker/worker.ts";
import { WaitQueue, type Waiter } from "./queue.ts";
import { leastLoaded } from "./select.ts";
import { PoolStats, type PoolStatsSnapshot } from "./stats.ts";

/** Per-call options at the pool level. */
export interface ExecuteOptions {
  /** Total budget for the call, queue wait included. Default: the pool's timeout profile. */
  timeoutMs?: number;
  signal?: AbortSignal;
  sessionId?: string;
  metadata?: Record<string, string>;
  traceparent?: string;
  correlationId?: string;
}

/** What a pool needs from its owner. */
export interface PoolDeps {
  runId: string;
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
}

const RESTART_BACKOFF_MS = [100, 200, 400, 800, 1_600, 3_200, 5_000];

export class Pool {
  readonly name: string;
  readonly config: PoolConfig;
  readonly timeouts: TimeoutProfile;
  readonly workers: Worker[] = [];
  readonly #queue = new WaitQueue<Worker>();
  readonly #deps: PoolDeps;
  readonly stats = new PoolStats();
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
      for (let started = 0; started < poolSize; started += startupBatchSize) {
        if (started > 0 && startupBatchDelayMs > 0) await delay(startupBatchDelayMs, this.#stopSignal.signal);
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
  }

  async #spawn(): Promise<Worker> {
    const id = `${this.name}-${this.#nextWorker++}`;
    const c = this.config;
    const worker: Worker = new Worker(
      {
        id,
        python: this.#deps.python,
        adapter: c.adapter,
        bridgeDir: this.#deps.bridgeDir,
        env: { ...this.#deps.env, ...c.env, SNAKEPIT_RUN_ID: this.#deps.runId, SNAKEPIT_POOL: this.name },
        cwd: c.cwd,
        pythonArgs: c.pythonArgs,
        capacity: c.workerProfile === "thread" ? c.threadsPerWorker : 1,
        runId: this.#deps.runId,
        startupTimeoutMs: c.startupTimeoutMs,
        cancelGraceMs: c.cancelGraceMs,
        logLevel: c.logLevel,
      },
      {
        onExit: (w, status, expected) => this.#onExit(w, status.exitCode, status.signal, expected),
        onLog: (w, line) => this.#deps.bus.emit("worker.log", { pool: this.name, worker: w.id, line }),
        onIdle: (w) => this.#drainTo(w),
        get inbound() {
          return inbound;
        },
      },
    );
    const inbound = this.#deps.inbound(this, worker);
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
    this.#drainTo(worker);
    return worker;
  }

  #remove(worker: Worker): void {
    const i = this.workers.indexOf(worker);
    if (i >= 0) this.workers.splice(i, 1);
  }

  #onExit(worker: Worker, exitCode: number | null, signal: string | null, expected: boolean): void {
    this.#remove(worker);
    this.#deps.bus.emit("worker.exited", { pool: this.name, worker: worker.id, pid: worker.pid, exitCode, signal, expected });
    if (expected || this.#closed) return;
    this.stats.crashes++;
    void this.#replace();
  }

  /** Start a replacement, retrying with backoff while the pool is open. */
  async #replace(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        await this.#spawn();
        this.stats.restarts++;
        return;
      } catch (err) {
        if (this.#closed) return;
        this.#deps.bus.emit("worker.restart_failed", {
          pool: this.name, worker: "", error: (err as Error).message, attempt,
        });
        const wait = RESTART_BACKOFF_MS[Math.min(attempt, RESTART_BACKOFF_MS.length - 1)]!;
        try {
          await delay(wait, this.#stopSignal.signal);
        } catch {
          return;
        }
      }
    }
  }

  /** Give a freed worker the next queued call it can take. */
  #drainTo(worker: Worker): void {
    while (worker.hasCapacity) {
      const waiter = this.#queue.takeFor(worker);
      if (!waiter) return;
      waiter.run(worker);
    }
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

  /**
   * Run `start` on a worker now if one is free, else queue it. `start` must take the worker's
   * slot synchronously. Queue rules: full queue -> pool_saturated; queue timeout -> queue_timeout;
   * abort while queued -> removed, rejected with the abort reason.
   */
  #dispatch<T>(budgetMs: number, signal: AbortSignal | undefined, start: (worker: Worker, queueMs: number) => T, prefetch = true): Promise<T> {
    if (this.#closed) return Promise.reject(new SnakepitError("pool_closed", `Pool "${this.name}" is closed`));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const free = this.#pick(prefetch);
    if (free) return Promise.resolve(start(free, 0));
    if (this.#queue.size >= this.config.maxQueue) {
      this.stats.saturated++;
      return Promise.reject(new SnakepitError(
        "pool_saturated",
        `Pool "${this.name}" is saturated: ${this.#queue.size} calls already wait (maxQueue ${this.config.maxQueue})`,
        { details: { pool: this.name, queued: this.#queue.size, maxQueue: this.config.maxQueue } },
      ));
    }
    return new Promise<T>((resolve, reject) => {
      const enqueuedAt = performance.now();
      const queueTimeout = Math.min(this.timeouts.queueTimeoutMs, budgetMs);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter<Worker> = {
        enqueuedAt,
        run: (worker) => {
          cleanup();
          try {
            resolve(start(worker, performance.now() - enqueuedAt));
          } catch (err) {
            reject(err);
          }
        },
        fail: (reason) => {
          cleanup();
          reject(reason);
        },
      };
      const remove = this.#queue.push(waiter);
      const onAbort = () => {
        if (remove()) waiter.fail(abortError(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (Number.isFinite(queueTimeout)) {
        timer = setTimeout(() => {
          if (!remove()) return;
          this.stats.queueTimeouts++;
          const code = queueTimeout < this.timeouts.queueTimeoutMs ? "deadline_exceeded" : "queue_timeout";
          waiter.fail(new SnakepitError(code, `No worker of pool "${this.name}" became free within ${queueTimeout} ms`, {
            details: { pool: this.name, queueTimeoutMs: queueTimeout },
          }));
        }, queueTimeout);
      }
    });
  }

  #callOptions(budgetMs: number, queueMs: number, options: ExecuteOptions): CallOptions {
    const remaining = budgetMs - queueMs;
    return {
      signal: options.signal,
      timeoutMs: Number.isFinite(remaining) ? remaining : undefined,
      innerTimeoutMs: Number.isFinite(remaining) ? innerTimeoutMs(remaining) : undefined,
      sessionId: options.sessionId,
      metadata: options.metadata,
      traceparent: options.traceparent,
      correlationId: options.correlationId,
    };
  }

  /** Execute a tool on the least-loaded worker. */
  async execute(tool: string, args: Record<string, unknown>, options: ExecuteOptions = {}): Promise<CallResult> {
    const budget = options.timeoutMs ?? this.timeouts.executeTimeoutMs;
    const t0 = performance.now();
    this.stats.requests++;
    let worker: Worker | undefined;
    try {
      const result = await (await this.#dispatch(budget, options.signal, (w, queueMs) => {
        worker = w;
        return w.execute(tool, args, this.#callOptions(budget, queueMs, options));
      }));
      this.stats.record(performance.now() - t0);
      return result;
    } catch (err) {
      this.stats.failed++;
      const e = SnakepitError.from(err);
      if (this.#deps.bus.has("call.exception")) {
        this.#deps.bus.emit("call.exception", { pool: this.name, worker: worker?.id, tool, code: e.code, durationMs: performance.now() - t0 });
      }
      throw e;
    }
  }

  /** Stream a tool's chunks from the least-loaded worker. */
  async *stream(tool: string, args: Record<string, unknown>, options: ExecuteOptions = {}): AsyncGenerator<unknown, void, undefined> {
    const budget = options.timeoutMs ?? this.timeouts.streamTimeoutMs;
    const t0 = performance.now();
    this.stats.requests++;
    let ok = false;
    try {
      const chunks = await this.#dispatch(budget, options.signal, (w, queueMs) =>
        w.stream(tool, args, this.#callOptions(budget, queueMs, options)), false);
      yield* chunks;
      ok = true;
    } finally {
      if (ok) this.stats.record(performance.now() - t0);
      else this.stats.failed++;
    }
  }

  /**
   * Replace a worker without failing a call: a new worker starts first, the old one takes no
   * new calls, finishes its running ones (up to the shutdown grace), then stops.
   */
  async recycle(workerId: string): Promise<string> {
    const old = this.workers.find((w) => w.id === workerId);
    if (!old) {
      throw new SnakepitError("not_found", `Pool "${this.name}" has no worker "${workerId}"`, { details: { worker: workerId } });
    }
    if (old.state !== "ready") {
      throw new SnakepitError("worker_unavailable", `Worker "${workerId}" is ${old.state}`, { details: { worker: workerId } });
    }
    old.state = "draining";
    this.stats.recycles++;
    let fresh: Worker;
    try {
      fresh = await this.#spawn();
    } catch (err) {
      if (old.state === "draining") old.state = "ready";
      this.#drainTo(old);
      throw err;
    }
    await old.drain(this.config.shutdownGraceMs);
    await old.stop(this.config.cancelGraceMs);
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
      queued: this.#queue.size,
    });
  }

  /**
   * Close: queued calls fail with pool_closed, in-flight calls get `graceMs` to finish, then
   * workers are stopped in stages. Idempotent.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    const graceMs = options.graceMs ?? this.config.shutdownGraceMs;
    const closed = new SnakepitError("pool_closed", `Pool "${this.name}" is closed`);
    for (const waiter of this.#queue.drain()) waiter.fail(closed);
    this.#stopSignal.abort(closed);
    this.#closing = (async () => {
      await Promise.allSettled([...this.#pendingStarts]);
      await Promise.all([...this.workers].map((w) => w.stop(graceMs)));
      this.workers.length = 0;
      this.#deps.bus.emit("pool.closed", { pool: this.name });
    })();
    return this.#closing;
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The workers of one pool, through the seam: spawn, exit handling, feeding free slots from the
 * queue, recycling (replacement first), telemetry control, the tools they report, and close.
 */

import type { PoolConfig } from "../config/schema.ts";
import type { Clock } from "../core/clock.ts";
import { SnakepitError } from "../errors.ts";
import type { CrashInfo } from "../resilience/crash.ts";
import type { EventBus } from "../telemetry/bus.ts";
import type { TelemetryControl } from "../telemetry/control.ts";
import type { ToolSpec, WorkerLink } from "../worker/link.ts";
import type { Dispatcher } from "./dispatcher.ts";
import type { WorkerFactory } from "./worker-factory.ts";

/** The pool facts a worker set reads. */
interface Owner {
  readonly name: string;
  readonly config: PoolConfig;
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly isClosed: boolean;
}

/** What a worker set is wired to. */
export interface WorkerSetDeps {
  create: WorkerFactory;
  dispatcher: Dispatcher;
  stopSignal: AbortSignal;
  device: () => string | undefined;
  crashed: (worker: WorkerLink, replace: boolean, duringCall: boolean) => void;
  recycleFor: (worker: WorkerLink, reason: string) => void;
}

export class WorkerSet {
  /** How long each tool's calls run, for prefetch decisions (see CallTracker.canPrefetch). */
  readonly #toolTimes = new Map<string, number>();
  readonly workers: WorkerLink[] = [];
  readonly #pool: Owner;
  readonly #deps: WorkerSetDeps;
  /** Workers being recycled: their replacement is already started. */
  readonly #retiring = new Set<string>();
  readonly #pendingStarts = new Set<Promise<unknown>>();
  #nextWorker = 1;
  #tools: readonly ToolSpec[] = [];
  #toolTimeouts = new Map<string, number>();
  telemetryControl: TelemetryControl | undefined;

  constructor(pool: Owner, deps: WorkerSetDeps) {
    this.#pool = pool;
    this.#deps = deps;
  }

  get tools(): readonly ToolSpec[] {
    return this.#tools;
  }

  /** A tool's own default deadline, if it declared one. */
  toolTimeoutMs(tool: string): number | undefined {
    return this.#toolTimeouts.get(tool);
  }

  async spawn(): Promise<WorkerLink> {
    const pool = this.#pool;
    const id = `${pool.name}-${this.#nextWorker++}`;
    const bus = pool.bus;
    const worker = this.#deps.create({
      id,
      pool: pool.config,
      device: this.#deps.device(),
      clock: pool.clock,
      hooks: {
        onSpawn: (w) => bus.emit("worker.spawned", { pool: pool.name, worker: w.id, pid: w.pid }),
        onExit: (w, status, expected, crash, wasReady) => this.#onExit(w, status.exitCode, status.signal, expected, crash, wasReady),
        onLog: (w, line) => bus.emit("worker.log", { pool: pool.name, worker: w.id, line }),
        onIdle: (w) => this.#onIdle(w),
        onZombie: (_w, tool, delta) => this.#deps.dispatcher.zombie(tool, delta),
        toolTimes: this.#toolTimes,
      },
    });
    this.workers.push(worker);
    const t0 = performance.now();
    const starting = worker.start(this.#deps.stopSignal);
    this.#pendingStarts.add(starting);
    try {
      await starting;
    } catch (err) {
      this.#remove(worker);
      throw err;
    } finally {
      this.#pendingStarts.delete(starting);
    }
    if (pool.isClosed) {
      await worker.stop(0);
      throw new SnakepitError("pool_closed", `Pool "${pool.name}" closed while worker "${id}" started`);
    }
    if (this.#tools.length === 0 && worker.tools.length > 0) this.#learnTools(worker.tools);
    bus.emit("worker.started", { pool: pool.name, worker: id, pid: worker.pid, durationMs: performance.now() - t0 });
    if (this.telemetryControl) worker.control("ConfigureTelemetry", { ...this.telemetryControl }).catch(() => {});
    this.#deps.dispatcher.feed(worker);
    return worker;
  }

  #learnTools(tools: readonly ToolSpec[]): void {
    this.#tools = tools;
    this.#toolTimeouts = new Map(tools.filter((t) => t.timeoutMs !== undefined).map((t) => [t.name, t.timeoutMs!]));
  }

  #remove(worker: WorkerLink): void {
    const i = this.workers.indexOf(worker);
    if (i >= 0) this.workers.splice(i, 1);
  }

  #onExit(worker: WorkerLink, exitCode: number | null, signal: string | null, expected: boolean, crash: CrashInfo | undefined, wasReady: boolean): void {
    const pool = this.#pool;
    this.#remove(worker);
    pool.bus.emit("worker.exited", { pool: pool.name, worker: worker.id, pid: worker.pid, exitCode, signal, expected, crash });
    if (!wasReady) return; // a failed start: its caller reports it
    this.#deps.dispatcher.failPinned(worker.id, () => new SnakepitError(
      "session_worker_lost",
      `Worker "${worker.id}" holding this call's session is gone; its session state is lost`,
      { details: { pool: pool.name, worker: worker.id } },
    ));
    const retiring = this.#retiring.delete(worker.id);
    if (expected || pool.isClosed) return;
    // A worker being recycled already has its replacement.
    this.#deps.crashed(worker, !retiring, crash?.duringCall === true);
  }

  #onIdle(worker: WorkerLink): void {
    const max = this.#pool.config.lifecycle.workerMaxRequests;
    if (max !== undefined && worker.requests >= max && worker.state === "ready") {
      this.#deps.recycleFor(worker, "max_requests");
      return;
    }
    this.#deps.dispatcher.feed(worker);
  }

  async recycle(workerId: string): Promise<string> {
    const pool = this.#pool;
    const old = this.workers.find((w) => w.id === workerId);
    if (!old) throw new SnakepitError("not_found", `Pool "${pool.name}" has no worker "${workerId}"`, { details: { worker: workerId } });
    if (old.state !== "ready") {
      throw new SnakepitError("worker_unavailable", `Worker "${workerId}" is ${old.state}`, { details: { worker: workerId } });
    }
    old.retire();
    this.#retiring.add(old.id);
    let fresh: WorkerLink;
    try {
      fresh = await this.spawn();
    } catch (err) {
      this.#retiring.delete(old.id);
      old.unretire();
      this.#deps.dispatcher.feed(old);
      throw err;
    }
    await old.drain(pool.config.shutdownGraceMs);
    await old.stop(pool.config.cancelGraceMs);
    this.#retiring.delete(old.id);
    return fresh.id;
  }

  async configureTelemetry(control: TelemetryControl, workerId?: string): Promise<void> {
    if (workerId === undefined) this.telemetryControl = control;
    const targets = this.workers.filter((w) => w.state === "ready" && (workerId === undefined || w.id === workerId));
    await Promise.all(targets.map((w) => w.control("ConfigureTelemetry", { ...control })));
  }

  /** Wait for starts in progress, then stop every worker in stages. */
  async close(graceMs: number): Promise<void> {
    await Promise.allSettled([...this.#pendingStarts]);
    await Promise.all([...this.workers].map((w) => w.stop(graceMs)));
    this.workers.length = 0;
  }
}

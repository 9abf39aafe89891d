/**
 * Getting a call onto a worker: at once when one is free, else through the fair queue with its
 * rules (see queue.ts; a tool with a cancelled call still running waits, see docs/resilience.md). Full queue -> pool_saturated; queue timeout -> queue_timeout (deadline_exceeded when the
 * call's own budget was shorter); abort while queued -> removed and rejected with the reason.
 */

import { type Clock, realClock } from "../core/clock.ts";
import { type Deadlines, deadlinesOf } from "../core/deadlines.ts";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { abortError, SnakepitError } from "../errors.ts";
import type { WorkerLink as Worker } from "../worker/link.ts";
import { QueuedCall } from "./queued-call.ts";
import { WaitQueue, type Waiter } from "./queue.ts";
import type { PoolStats } from "./stats.ts";

/** How a call wants its worker. */
export interface Want {
  /** A free worker now, or undefined. */
  pick(): Worker | undefined;
  /** Only this worker will do (strict affinity); undefined = any. */
  only?: Worker | undefined;
  /** May wait in a busy worker's pipe (unary calls only). */
  prefetch?: boolean | undefined;
}

/** Who is calling: the fairness key of a queued call (its `client`, else its tool). */
export interface Caller {
  tool?: string | undefined;
  client?: string | undefined;
}

export class Dispatcher {
  readonly #queue = new WaitQueue<Worker>();
  /** Queued calls that any worker may take (not pinned to one). */
  #waitingAny = 0;
  /** Cancelled calls still running on a worker ("zombies"), in all and by tool. */
  #zombies = 0;
  readonly #zombieTools = new Map<string, number>();
  /** May this queued call start now? (not while its tool has a zombie; pinned calls always may) */
  readonly #eligible = (w: Waiter<Worker>): boolean => this.#zombies === 0 || !w.pick || !this.#zombieTools.has((w as QueuedCall<unknown>).tool);
  readonly #ready = (w: Waiter<Worker>): boolean => w.pick !== undefined && this.#eligible(w);
  readonly #pool: string;
  /** The pool's config and timeouts, read live (no object per queued call). */
  readonly #limits: { readonly maxQueue: number };
  readonly #timeouts: { readonly queueTimeoutMs: number };
  readonly #stats: PoolStats;
  readonly #clock: Clock;
  readonly #deadlines: Deadlines;

  constructor(pool: string, limits: { readonly maxQueue: number }, timeouts: { readonly queueTimeoutMs: number }, stats: PoolStats, clock: Clock = realClock) {
    this.#pool = pool;
    this.#clock = clock;
    this.#deadlines = deadlinesOf(clock);
    this.#limits = limits;
    this.#timeouts = timeouts;
    this.#stats = stats;
  }

  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Run `start` (which must take the worker's slot synchronously) on a worker, now or later.
   * `budgetMs`: how long it may wait, or its deadline on the dispatcher's clock (read only if it must queue).
   * `front`: the call was already placed once and never started; it waits ahead of the others
   * (and is not refused for a full queue).
   */
  dispatch<T>(
    budgetMs: number | { readonly deadline: number },
    signal: AbortSignal | undefined,
    want: Want,
    start: (worker: Worker, queueMs: number) => T | Promise<T>,
    front = false,
    caller?: Caller,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    // While calls wait, a new one may not take a slot ahead of them (it would starve them: the
    // queue is fed only when a worker is idle). It queues, and the queue is pumped at once.
    // A tool with a cancelled call still running waits too (it may not pin another worker).
    const free = want.only
      ? (want.only.hasCapacity ? want.only : undefined)
      : (front || this.#waitingAny === 0) && (this.#zombies === 0 || !this.#zombieTools.has(caller?.tool ?? "")) ? want.pick() : undefined;
    if (free) {
      try {
        return Promise.resolve(start(free, 0));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const maxQueue = this.#limits.maxQueue;
    const queueTimeoutMs = this.#timeouts.queueTimeoutMs;
    if (!front && this.#queue.size >= maxQueue) {
      this.#stats.saturated++;
      return Promise.reject(new SnakepitError(
        "pool_saturated",
        `Pool "${this.#pool}" is saturated: ${this.#queue.size} calls already wait (maxQueue ${maxQueue})`,
        { details: { pool: this.#pool, queued: this.#queue.size, maxQueue } },
      ));
    }
    const now = this.#clock.now();
    const budget = typeof budgetMs === "number" ? budgetMs : budgetMs.deadline - now;
    const waiter = new QueuedCall<T>(this, start, now, signal, Math.min(queueTimeoutMs, budget), queueTimeoutMs, want.only);
    waiter.tool = caller?.tool ?? "";
    waiter.key = caller?.client !== undefined ? `client:${caller.client}` : `tool:${waiter.tool}`;
    if (!want.only) {
      waiter.pick = want.pick;
      this.#waitingAny++;
    }
    waiter.remover = front ? this.#queue.unshift(waiter) : this.#queue.push(waiter);
    if (waiter.pick) this.#pump();
    if (waiter.left) return waiter.promise; // the pump started it at once
    signal?.addEventListener("abort", waiter, { once: true });
    if (Number.isFinite(waiter.timeout) && waiter.timeout <= MAX_TIMER_MS) {
      waiter.at = waiter.enqueuedAt + Math.max(0, waiter.timeout);
      this.#deadlines.add(waiter);
    }
    return waiter.promise;
  }

  /** A queued call waited too long (QueuedCall's deadline). */
  timedOut(waiter: QueuedCall<unknown>): void {
    if (!waiter.remove()) return;
    this.#stats.queueTimeouts++;
    const timeout = waiter.timeout;
    const code = timeout < waiter.queueTimeoutMs ? "deadline_exceeded" : "queue_timeout";
    const zombies = waiter.pick ? this.#zombieTools.get(waiter.tool) : undefined;
    const message = zombies
      ? `Calls of tool "${waiter.tool}" wait while ${zombies} cancelled call(s) of it still run (the tool ignores cancellation; its worker is recycled after cancelGraceMs): none could start within ${Math.round(timeout)} ms`
      : `No worker of pool "${this.#pool}" became free within ${Math.round(timeout)} ms`;
    waiter.fail(new SnakepitError(code, message, {
      details: { pool: this.#pool, queueTimeoutMs: timeout, ...(zombies ? { tool: waiter.tool, reason: "cancelled_call_running", zombieCalls: zombies } : {}) },
    }));
    this.pumpIfWaiting();
  }

  /** A queued call left early (timeout, abort): calls behind it may fit a free slot now. */
  pumpIfWaiting(): void {
    if (this.#waitingAny > 0) this.#pump();
  }

  /** An unpinned queued call left the queue by its own removal (abort, timeout, pump). */
  leftQueue(): void {
    this.#waitingAny--;
  }

  /** A queued call left the queue (run or failed): its deadline no longer matters. */
  unschedule(waiter: QueuedCall<unknown>): void {
    this.#deadlines.remove(waiter);
  }

  /** A queued call that ran ended for its caller after `ms` (its key's cost, for fair shares). */
  released(waiter: Waiter<Worker>, ms: number): void {
    this.#queue.release(waiter, ms);
  }

  /** A cancelled call of `tool` keeps running on a worker (+1) or ended at last (-1). */
  zombie(tool: string, delta: number): void {
    const n = (this.#zombieTools.get(tool) ?? 0) + delta;
    this.#zombies += delta;
    if (n > 0) this.#zombieTools.set(tool, n);
    else {
      this.#zombieTools.delete(tool);
      // Its waiting calls may start on any free worker now (after the tracker's bookkeeping).
      if (this.#waitingAny > 0) queueMicrotask(() => this.pumpIfWaiting());
    }
  }

  /** Time since `t`, on the dispatcher's clock. */
  since(t: number): number {
    return this.#clock.now() - t;
  }

  /**
   * Start queued calls (fair order) that may take a slot now; stop at the first that cannot, so
   * later calls never overtake it. Calls pinned to one worker wait for `feed`. While several keys
   * wait, no queued call takes a prefetch slot: a quick call must not end up behind a slow one in
   * a worker's pipe (free slots are handed out by `feed`).
   */
  #pump(): void {
    for (let waiter = this.#queue.peek(this.#ready); waiter; waiter = this.#queue.peek(this.#ready)) {
      const worker = waiter.pick!();
      if (!worker || (!worker.hasCapacity && this.#queue.keys > 1)) return;
      this.#queue.take(waiter);
      this.#waitingAny--;
      waiter.run(worker);
    }
  }

  /** Give a worker with free slots the next queued calls it can take. */
  feed(worker: Worker): void {
    while (worker.hasCapacity) {
      const waiter = this.#queue.takeFor(worker, this.#eligible);
      if (!waiter) break;
      if (waiter.pick) this.#waitingAny--;
      waiter.run(worker);
    }
    this.pumpIfWaiting();
  }

  /** Fail the calls waiting for one worker (it is gone). */
  failPinned(workerId: string, error: (w: Waiter<Worker>) => SnakepitError): void {
    for (const waiter of this.#queue.removeWhere((w) => w.pinnedTo === workerId)) waiter.fail(error(waiter));
  }

  /** Fail everything queued. */
  failAll(error: SnakepitError): void {
    this.#waitingAny = 0;
    for (const waiter of this.#queue.drain()) waiter.fail(error);
  }
}

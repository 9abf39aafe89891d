/**
 * Getting a call onto a worker: at once when one is free, else through the FIFO queue with its
 * rules. Full queue -> pool_saturated; queue timeout -> queue_timeout (deadline_exceeded when the
 * call's own budget was shorter); abort while queued -> removed and rejected with the reason.
 */

import { type Clock, realClock, type Timer } from "../core/clock.ts";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { abortError, SnakepitError } from "../errors.ts";
import type { WorkerLink as Worker } from "../worker/link.ts";
import { WaitQueue, type Waiter } from "./queue.ts";
import type { PoolStats } from "./stats.ts";

/** How a call wants its worker. */
export interface Want {
  /** A free worker now, or undefined. */
  pick(): Worker | undefined;
  /** Only this worker will do (strict affinity); undefined = any. */
  only?: Worker | undefined;
}

export class Dispatcher {
  readonly #queue = new WaitQueue<Worker>();
  /** Queued calls that any worker may take (not pinned to one). */
  #waitingAny = 0;
  readonly #pool: string;
  readonly #limits: () => { maxQueue: number; queueTimeoutMs: number };
  readonly #stats: PoolStats;
  readonly #clock: Clock;

  constructor(pool: string, limits: () => { maxQueue: number; queueTimeoutMs: number }, stats: PoolStats, clock: Clock = realClock) {
    this.#pool = pool;
    this.#clock = clock;
    this.#limits = limits;
    this.#stats = stats;
  }

  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Run `start` (which must take the worker's slot synchronously) on a worker, now or later.
   * `front`: the call was already placed once and never started; it waits ahead of the others
   * (and is not refused for a full queue).
   */
  dispatch<T>(
    budgetMs: number,
    signal: AbortSignal | undefined,
    want: Want,
    start: (worker: Worker, queueMs: number) => T | Promise<T>,
    front = false,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    // FIFO: while calls wait, a new one may not take a prefetch slot ahead of them (it would
    // starve them: the queue is fed only when a worker is idle). It queues behind, and the queue
    // is pumped at once.
    const free = want.only ? (want.only.hasCapacity ? want.only : undefined) : front || this.#waitingAny === 0 ? want.pick() : undefined;
    if (free) {
      try {
        return Promise.resolve(start(free, 0));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const { maxQueue, queueTimeoutMs } = this.#limits();
    if (!front && this.#queue.size >= maxQueue) {
      this.#stats.saturated++;
      return Promise.reject(new SnakepitError(
        "pool_saturated",
        `Pool "${this.#pool}" is saturated: ${this.#queue.size} calls already wait (maxQueue ${maxQueue})`,
        { details: { pool: this.#pool, queued: this.#queue.size, maxQueue } },
      ));
    }
    return new Promise<T>((resolve, reject) => {
      const enqueuedAt = this.#clock.now();
      const timeout = Math.min(queueTimeoutMs, budgetMs);
      let timer: Timer | undefined;
      const cleanup = () => {
        timer?.clear();
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter<Worker> = {
        enqueuedAt,
        run: (worker) => {
          cleanup();
          try {
            resolve(start(worker, this.#clock.now() - enqueuedAt));
          } catch (err) {
            reject(err);
          }
        },
        fail: (reason) => {
          cleanup();
          reject(reason);
        },
      };
      if (want.only) {
        const only = want.only;
        waiter.accepts = (w) => w === only;
        waiter.pinnedTo = only.id;
      } else {
        waiter.pick = want.pick;
        this.#waitingAny++;
      }
      const unlink = front ? this.#queue.unshift(waiter) : this.#queue.push(waiter);
      const remove = () => {
        if (!unlink()) return false;
        if (waiter.pick) this.#waitingAny--;
        return true;
      };
      waiter.remove = remove;
      const onAbort = () => {
        if (remove()) waiter.fail(abortError(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (Number.isFinite(timeout) && timeout <= MAX_TIMER_MS) {
        timer = this.#clock.setTimer(() => {
          if (!remove()) return;
          this.#stats.queueTimeouts++;
          const code = timeout < queueTimeoutMs ? "deadline_exceeded" : "queue_timeout";
          waiter.fail(new SnakepitError(code, `No worker of pool "${this.#pool}" became free within ${Math.round(timeout)} ms`, {
            details: { pool: this.#pool, queueTimeoutMs: timeout },
          }));
        }, Math.max(0, timeout));
      }
      if (waiter.pick) this.#pump();
    });
  }

  /**
   * Start queued calls (oldest first) that may take a prefetch slot now; stop at the first that
   * cannot, so later calls never overtake it. Calls pinned to one worker wait for `feed`.
   */
  #pump(): void {
    for (let waiter = this.#queue.firstWhere(unpinned); waiter; waiter = this.#queue.firstWhere(unpinned)) {
      const worker = waiter.pick!();
      if (!worker) return;
      waiter.remove!();
      waiter.run(worker);
    }
  }

  /** Give a worker with free slots the next queued calls it can take. */
  feed(worker: Worker): void {
    while (worker.hasCapacity) {
      const waiter = this.#queue.takeFor(worker);
      if (!waiter) break;
      if (waiter.pick) this.#waitingAny--;
      waiter.run(worker);
    }
    if (this.#waitingAny > 0) this.#pump();
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

const unpinned = (w: Waiter<Worker>) => w.pick !== undefined;

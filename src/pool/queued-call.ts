/**
 * A call waiting in the dispatcher's queue, as one object: the queue's waiter, its deadline in
 * the clock's heap and the listener of its abort signal (no closure per role).
 */

import type { Deadline } from "../core/deadlines.ts";
import { abortError } from "../errors.ts";
import type { WorkerLink as Worker } from "../worker/link.ts";
import type { Dispatcher } from "./dispatcher.ts";
import type { Waiter } from "./queue.ts";

export class QueuedCall<T> implements Waiter<Worker>, Deadline {
  readonly promise: Promise<T>;
  readonly enqueuedAt: number;
  /** How long it may wait, ms, and the pool's own queue timeout (which error it gets). */
  readonly timeout: number;
  readonly queueTimeoutMs: number;
  accepts: ((worker: Worker) => boolean) | undefined;
  pinnedTo: string | undefined;
  /** For calls any worker may take: a worker with a free or prefetch slot now (Waiter). */
  pick: (() => Worker | undefined) | undefined = undefined;
  /** Unlinks it from the queue; false once it left. Set by the dispatcher. */
  remover: () => boolean = () => false;
  /** The tool it calls, and its fairness key (see queue.ts). */
  tool = "";
  key: string | undefined = undefined;
  /** It left the queue: started or failed. */
  left = false;
  at = 0;
  heapIndex = -1;
  heapSeq = 0;
  readonly #dispatcher: Dispatcher;
  readonly #start: (worker: Worker, queueMs: number) => T | Promise<T>;
  readonly #signal: AbortSignal | undefined;
  #resolve!: (value: T | Promise<T>) => void;
  #reject!: (reason: unknown) => void;

  constructor(
    dispatcher: Dispatcher,
    start: (worker: Worker, queueMs: number) => T | Promise<T>,
    enqueuedAt: number,
    signal: AbortSignal | undefined,
    timeout: number,
    queueTimeoutMs: number,
    only: Worker | undefined,
  ) {
    this.#dispatcher = dispatcher;
    this.#start = start;
    this.enqueuedAt = enqueuedAt;
    this.#signal = signal;
    this.timeout = timeout;
    this.queueTimeoutMs = queueTimeoutMs;
    if (only) {
      this.accepts = (w) => w === only;
      this.pinnedTo = only.id;
    }
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Take it out of the queue (Waiter); false when it already left. */
  remove(): boolean {
    if (!this.remover()) return false;
    if (this.pick) this.#dispatcher.leftQueue();
    return true;
  }

  #cleanup(): void {
    this.left = true;
    this.#dispatcher.unschedule(this as QueuedCall<unknown>);
    this.#signal?.removeEventListener("abort", this);
  }

  /** A worker took it (Waiter). */
  run(worker: Worker): void {
    this.#cleanup();
    let out: T | Promise<T>;
    try {
      out = this.#start(worker, this.#dispatcher.since(this.enqueuedAt));
    } catch (err) {
      this.#reject(err);
      return;
    }
    // Follow a started call's promise with one reaction: resolving with the promise itself would
    // cost a thenable job and a reaction more per queued call.
    // The same reaction times the call for its key's fair share of worker time (see queue.ts).
    if (out instanceof Promise) {
      const startedAt = this.#dispatcher.since(0);
      out.then((value) => {
        this.#dispatcher.released(this, this.#dispatcher.since(startedAt));
        this.#resolve(value);
      }, (err: unknown) => {
        this.#dispatcher.released(this, this.#dispatcher.since(startedAt));
        this.#reject(err);
      });
    } else this.#resolve(out);
  }

  fail(reason: unknown): void {
    this.#cleanup();
    this.#reject(reason);
  }

  /** The abort signal fired (EventListener object). */
  handleEvent(): void {
    if (!this.remove()) return;
    this.fail(abortError(this.#signal!));
    this.#dispatcher.pumpIfWaiting();
  }

  /** Waited too long (Deadline). */
  fire(): void {
    this.#dispatcher.timedOut(this as QueuedCall<unknown>);
  }
}

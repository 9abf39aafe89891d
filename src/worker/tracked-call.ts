/**
 * One call a CallTracker started, as a single object: the channel's sink for its replies, its
 * deadline in the clock's heap, the listener of its abort signal and the caller's handle. One
 * allocation (and its promise) per call instead of a closure for each role.
 */

import type { CallSink } from "../bridge/channel.ts";
import type { Deadline } from "../core/deadlines.ts";
import type { Timer } from "../core/clock.ts";
import { abortError, SnakepitError } from "../errors.ts";
import type { CallTracker, Conduit, StartedCall } from "./calls.ts";

export class TrackedCall implements CallSink, Deadline, StartedCall {
  id = 0;
  readonly done: Promise<unknown>;
  elapsedMs = 0;
  readonly sentAt: number;
  readonly tool: string;
  readonly message: ((msg: unknown) => void) | undefined;
  readonly messages: ((data: unknown[]) => void) | undefined;
  settled = false;
  /** Resolve `done` with a CallResult (`result`, `durationUs`) rather than the raw reply. */
  unary = false;
  cancelled = false;
  /** Behind the first `capacity` calls when the worker went away: it never ran. */
  notStarted = false;
  /** Its tool was known to be slow when it was sent: nothing is prefetched behind it. */
  slow = false;
  grace: Timer | undefined;
  /** The deadline (Deadline): clock ms, and the budget it came from. */
  at = 0;
  budget = 0;
  heapIndex = -1;
  heapSeq = 0;
  readonly #tracker: CallTracker;
  readonly #conduit: Conduit;
  readonly #signal: AbortSignal | undefined;
  #resolve!: (value: unknown) => void;
  #reject!: (reason: unknown) => void;

  constructor(
    tracker: CallTracker, conduit: Conduit, tool: string, signal: AbortSignal | undefined, onMessage: ((msg: unknown) => void) | undefined, sentAt: number,
    onMessages?: (data: unknown[]) => void,
  ) {
    this.#tracker = tracker;
    this.#conduit = conduit;
    this.tool = tool;
    this.#signal = signal;
    this.message = onMessage;
    this.messages = onMessages;
    this.sentAt = sentAt;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** The worker ended the call (CallSink). */
  end(reply: unknown, err: SnakepitError | undefined): void {
    this.#tracker.ended(this, reply, err);
  }

  /** Settle the caller's promise once. */
  settle(err: SnakepitError | undefined, reply?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#tracker.unschedule(this);
    this.#signal?.removeEventListener("abort", this);
    if (err) this.#reject(err);
    else if (this.unary) {
      // A unary call's caller gets its result and Python's time at once (no mapping `.then`).
      const r = reply as { result?: unknown; durationUs?: unknown } | undefined;
      this.#resolve({ result: r?.result ?? null, durationUs: Number(r?.durationUs ?? 0) });
    } else this.#resolve(reply);
  }

  /** Settle now with `reason` and ask the worker to stop; its slot is freed by the end. */
  cancel(reason: SnakepitError): void {
    if (this.settled || this.cancelled) return;
    this.cancelled = true;
    this.#tracker.cancelled(this);
    this.settle(reason);
    this.#conduit.cancel(this.id);
  }

  /** The abort signal fired (EventListener object). */
  handleEvent(): void {
    this.cancel(abortError(this.#signal!));
  }

  /** The deadline passed (Deadline). */
  fire(): void {
    const tool = this.tool;
    this.cancel(new SnakepitError("deadline_exceeded", `Tool "${tool}" did not finish within ${Math.round(this.budget)} ms`, {
      details: { tool, worker: this.#tracker.workerId, timeoutMs: this.budget },
    }));
  }
}

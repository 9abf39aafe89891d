/**
 * The serving side of a node: takes calls for its pools from its call subject, answers
 * accepted / busy at once, runs them on the local pools, publishes the outcome (or stream chunks,
 * no further ahead than the caller's credit) to the caller's reply subject, and obeys cancel and
 * credit messages on its control subject.
 *
 * Accepted calls wait in this node's own line and start only when a worker is free (a session's
 * calls start at once: their pool applies the affinity), and the caller is told `started`: a
 * call that never started here can safely move elsewhere if this node dies.
 */

import type { NatsConnection, Msg, Subscription } from "@nats-io/transport-node";
import { SnakepitError } from "../errors.ts";
import type { LocalRunner } from "./local.ts";
import { type AcceptReply, type CallRequest, type ControlMessage, decode, encode, fromWireError, fromWireValue, type ReplyMessage, type Subjects, toWireError, toWireValue } from "./wire.ts";

interface Active {
  req: CallRequest;
  pool: string;
  abort: AbortController;
  credit: number;
  wake: (() => void) | undefined;
  /** When the caller last said something (credit, keep-alive). */
  heardAt: number;
}

/** One call served for another node or client (for events and metrics). */
export interface ServedCall {
  from: string;
  pool: string;
  tool: string;
  durationMs: number;
  /** "ok" or the error code. */
  outcome: string;
}

export class NodeServer {
  readonly #nc: NatsConnection;
  readonly #subjects: Subjects;
  readonly #node: string;
  readonly #runner: LocalRunner;
  readonly #onServed: (call: ServedCall) => void;
  readonly #readerTimeoutMs: number;
  readonly #isVisible: () => boolean;
  readonly #active = new Map<string, Active>();
  /** Accepted calls not started yet, oldest first. */
  readonly #waiting: Active[] = [];
  #subs: Subscription[] = [];
  served = 0;

  constructor(
    nc: NatsConnection,
    options: {
      subjects: Subjects;
      node: string;
      runner: LocalRunner;
      /** A stream's reader silent this long is gone. */
      readerTimeoutMs: number;
      onServed: (call: ServedCall) => void;
      /** False while this node cannot reach the cluster: calls in its line are not started. */
      isVisible: () => boolean;
    },
  ) {
    this.#nc = nc;
    this.#subjects = options.subjects;
    this.#node = options.node;
    this.#runner = options.runner;
    this.#onServed = options.onServed;
    this.#readerTimeoutMs = options.readerTimeoutMs;
    this.#isVisible = options.isVisible;
  }

  start(): void {
    this.#subs = [
      this.#nc.subscribe(this.#subjects.call(this.#node), { callback: (err, msg) => void (err || this.#onCall(msg)) }),
      this.#nc.subscribe(this.#subjects.control(this.#node), { callback: (err, msg) => void (err || this.#onControl(msg)) }),
    ];
  }

  #onCall(msg: Msg): void {
    let req: CallRequest;
    try {
      req = decode<CallRequest>(msg.data);
    } catch (err) {
      msg.respond(encode({ error: toWireError(new SnakepitError("invalid_argument", `Malformed cluster call: ${(err as Error).message}`)) }));
      return;
    }
    if (!this.#runner.hasPool(req.pool)) {
      const error = new SnakepitError("invalid_argument", `Node "${this.#node}" runs no pool "${req.pool}"`, { details: { field: "pool", node: this.#node } });
      msg.respond(encode({ error: toWireError(error) }));
      return;
    }
    if (!req.mayQueue && this.#runner.free(req.pool) <= 0) {
      msg.respond(encode({ busy: true }));
      return;
    }
    const active: Active = { req, pool: req.pool, abort: new AbortController(), credit: req.credit ?? 0, wake: undefined, heardAt: performance.now() };
    this.#active.set(req.id, active);
    // A session's call starts at once (its pool applies the affinity), as does any call with a
    // free worker and nobody ahead of it; the answer then says so, saving a message.
    if (req.sessionId !== undefined || (this.#waiting.length === 0 && this.#runner.free(req.pool) > 0)) {
      msg.respond(encode({ accepted: true, started: true } satisfies AcceptReply));
      void this.#run(req, active);
      return;
    }
    msg.respond(encode({ accepted: true } satisfies AcceptReply));
    this.#waiting.push(active);
    this.pump();
  }

  /** Start waiting calls while their pools have free workers (called when capacity changes). */
  pump(): void {
    // Cut off from the cluster long enough for callers to count this node lost, the calls in
    // its line may already run elsewhere: never start them here.
    if (this.#waiting.length > 0 && !this.#isVisible()) return this.#release("has been out of touch with the cluster");
    for (let i = 0; i < this.#waiting.length;) {
      const active = this.#waiting[i]!;
      if (active.abort.signal.aborted) {
        this.#waiting.splice(i, 1);
        this.#publish(active.req.reply, { t: "error", error: toWireError(active.abort.signal.reason) });
        this.#active.delete(active.req.id);
        continue;
      }
      // The line's own calls do not count against it here.
      if (this.#runner.free(active.pool) + this.waitingFor(active.pool) <= 0) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      this.#start(active);
    }
  }

  #start(active: Active): void {
    this.#publish(active.req.reply, { t: "started" });
    void this.#run(active.req, active);
  }

  async #run(req: CallRequest, active: Active): Promise<void> {
    const t0 = performance.now();
    let outcome = "ok";
    const send = (m: ReplyMessage) => this.#publish(req.reply, m);
    try {
      if (req.sessionId !== undefined) this.#runner.ensureSession(req.sessionId);
      const options = {
        pool: req.pool,
        signal: active.abort.signal,
        ...(req.sessionId !== undefined ? { sessionId: req.sessionId } : {}),
        ...(req.affinity !== undefined ? { affinity: req.affinity as "hint" } : {}),
        ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
        ...(req.idempotent ? { idempotent: true } : {}),
        ...(req.idempotencyKey !== undefined ? { idempotencyKey: req.idempotencyKey } : {}),
      };
      const args = fromWireValue(req.args) as Record<string, unknown>;
      if (req.credit === undefined) {
        send({ t: "result", value: toWireValue(await this.#runner.execute(req.tool, args, options)) });
      } else {
        const chunks = this.#runner.stream(req.tool, args, options);
        try {
          for await (const chunk of chunks) {
            while (active.credit <= 0 && !active.abort.signal.aborted) await this.#awaitCredit(active);
            if (active.abort.signal.aborted) break;
            active.credit--;
            send({ t: "chunk", value: toWireValue(chunk) });
          }
        } finally {
          await chunks.return(undefined);
        }
        if (active.abort.signal.aborted) throw active.abort.signal.reason;
        send({ t: "end" });
      }
    } catch (err) {
      const e = SnakepitError.from(err);
      outcome = e.code;
      send({ t: "error", error: toWireError(e) });
    } finally {
      this.#active.delete(req.id);
      this.served++;
      this.#onServed({ from: req.from, pool: req.pool, tool: req.tool, durationMs: performance.now() - t0, outcome });
      this.pump();
    }
  }

  /** Wait for credit; a reader silent for `readerTimeoutMs` is gone and its stream is stopped. */
  async #awaitCredit(active: Active): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((r) => {
      active.wake = r;
      timer = setTimeout(r, this.#readerTimeoutMs);
    });
    clearTimeout(timer);
    if (active.credit <= 0 && performance.now() - active.heardAt >= this.#readerTimeoutMs) {
      active.abort.abort(new SnakepitError("aborted", `The reader of the stream went silent for ${this.#readerTimeoutMs} ms`, { details: { node: this.#node } }));
    }
  }

  #publish(subject: string, message: ReplyMessage): void {
    try {
      this.#nc.publish(subject, encode(message));
    } catch (err) {
      // Most often a result larger than the server's max_payload: say so instead of going silent.
      const error = new SnakepitError("payload_too_large", `Node "${this.#node}" cannot send the reply: ${(err as Error).message}`, { details: { node: this.#node } });
      try {
        this.#nc.publish(subject, encode({ t: "error", error: toWireError(error) } satisfies ReplyMessage));
      } catch {
        // connection closed: the caller sees the node go
      }
    }
  }

  #onControl(msg: Msg): void {
    let m: ControlMessage;
    try {
      m = decode<ControlMessage>(msg.data);
    } catch {
      return;
    }
    if (m.t === "end_session") {
      this.#runner.endSession(m.sessionId);
      return;
    }
    const active = this.#active.get(m.id);
    if (!active) return;
    active.heardAt = performance.now();
    if (m.t === "cancel") {
      active.abort.abort(fromWireError(m.reason));
      if (this.#waiting.includes(active)) this.pump();
    }
    else if (m.t === "credit") active.credit += Math.max(0, Math.floor(m.n));
    active.wake?.();
    active.wake = undefined;
  }

  /** Calls accepted and not started yet, per pool (advertised as queued). */
  waitingFor(pool: string): number {
    return this.#waiting.length === 0 ? 0 : this.#waiting.filter((a) => a.pool === pool).length;
  }

  /**
   * Leave in stages: stop taking calls (callers get no answer and go elsewhere), hand back the
   * calls that never started, let running calls finish for up to `graceMs` (their callers still
   * hear from us), then stop listening for cancels and credit.
   */
  async stop(graceMs: number): Promise<void> {
    const [calls, control] = this.#subs;
    this.#subs = [];
    await calls?.drain().catch(() => {});
    this.#release("is leaving the cluster");
    const until = performance.now() + graceMs;
    while (this.#active.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    await control?.drain().catch(() => {});
  }

  /** Calls that never started here go back to their callers, who place them elsewhere. */
  #release(why: string): void {
    for (const active of this.#waiting.splice(0)) {
      this.#active.delete(active.req.id);
      this.#publish(active.req.reply, { t: "error", error: toWireError(new SnakepitError("worker_unavailable", `Node "${this.#node}" ${why}`, { details: { node: this.#node, notStarted: true } })) });
    }
  }
}

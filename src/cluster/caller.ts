/**
 * The calling side: one attempt of a call or stream on one node. The node answers the request
 * at once (accepted, busy, or an error); the outcome and stream chunks then arrive on this
 * process's reply subject. A node that vanishes (no responders, no answer, or lost from the
 * directory) is reported as such, so the router can move calls that had not started.
 */

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { abortError, SnakepitError } from "../errors.ts";
import type { NodeDirectory } from "./directory.ts";
import { type AcceptReply, type CallRequest, type ControlMessage, decode, encode, fromWireError, fromWireValue, type ReplyMessage, type Subjects, toWireError } from "./wire.ts";

/** The request without the fields the caller fills in. */
export type CallSpec = Omit<CallRequest, "id" | "reply" | "from" | "mayQueue" | "credit">;

/** How one attempt ended before the call started on the node. */
export type NotStarted = { kind: "busy" } | { kind: "unreachable"; reason: string };

/** A call running on a node: its outcome and chunks. */
interface Pending {
  node: string;
  push(m: ReplyMessage): void;
  lost(): void;
}

export class Caller {
  readonly #nc: NatsConnection;
  readonly #subjects: Subjects;
  readonly #client: string;
  readonly #dir: NodeDirectory;
  readonly #acceptTimeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #pending = new Map<string, Pending>();
  readonly #sub: Subscription;
  readonly #offLost: () => void;
  #seq = 0;

  constructor(nc: NatsConnection, subjects: Subjects, client: string, dir: NodeDirectory, timing: { acceptTimeoutMs: number; heartbeatMs: number }) {
    this.#nc = nc;
    this.#subjects = subjects;
    this.#client = client;
    this.#dir = dir;
    this.#acceptTimeoutMs = timing.acceptTimeoutMs;
    this.#heartbeatMs = timing.heartbeatMs;
    this.#sub = nc.subscribe(subjects.replies(client), {
      callback: (err, msg) => {
        if (err) return;
        const id = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
        try {
          this.#pending.get(id)?.push(decode<ReplyMessage>(msg.data));
        } catch {
          // not ours
        }
      },
    });
    this.#offLost = dir.onLost((node) => {
      for (const p of [...this.#pending.values()]) if (p.node === node) p.lost();
    });
  }

  /** Send the request; resolves once the node accepted it, or says why it did not start. */
  async #send(node: string, req: CallRequest, signal: AbortSignal): Promise<NotStarted | { started: boolean }> {
    if (signal.aborted) throw abortError(signal);
    this.#dir.sent(node);
    let raw: Uint8Array;
    try {
      const timeout = Math.max(1, Math.min(this.#acceptTimeoutMs, remaining(req.timeoutMs)));
      raw = (await this.#nc.request(this.#subjects.call(node), encode(req), { timeout })).data;
    } catch (err) {
      if (signal.aborted) throw abortError(signal);
      const message = (err as Error).message;
      if (/max_payload/.test(message)) {
        throw new SnakepitError("payload_too_large", `The arguments of "${req.tool}" are larger than the NATS server's max_payload (${this.#nc.info?.max_payload ?? "?"} bytes)`, {
          details: { tool: req.tool, maxPayloadBytes: this.#nc.info?.max_payload },
        });
      }
      if ((err as Error).name === "PermissionViolationError") {
        throw new SnakepitError("unauthenticated", `Not allowed to call node "${node}": ${message}`, { details: { node } });
      }
      return { kind: "unreachable", reason: message };
    }
    const reply = decode<AcceptReply>(raw);
    if ("busy" in reply) return { kind: "busy" };
    if ("error" in reply) throw fromWireError(reply.error, node);
    return { started: reply.started === true };
  }

  #request(spec: CallSpec, mayQueue: boolean, credit?: number): CallRequest {
    const id = `${++this.#seq}x${Math.random().toString(36).slice(2, 8)}`;
    return { ...spec, id, reply: this.#subjects.reply(this.#client, id), from: this.#client, mayQueue, ...(credit !== undefined ? { credit } : {}) };
  }

  #control(node: string, m: ControlMessage): void {
    try {
      this.#nc.publish(this.#subjects.control(node), encode(m));
    } catch {
      // connection gone: the node will see the deadline itself
    }
  }

  /**
   * Run `spec` on `node`. Resolves `{ value }`, or a NotStarted; rejects with the node's error,
   * with the signal's reason (the node is told to cancel), or with `worker_crashed` and
   * `details.nodeLost` when the node was lost after it accepted.
   */
  async execute(node: string, spec: CallSpec, options: { mayQueue: boolean; signal: AbortSignal }): Promise<{ value: unknown } | NotStarted> {
    const req = this.#request(spec, options.mayQueue);
    let started = false;
    const outcome = new Promise<{ value: unknown } | NotStarted>((resolve, reject) => {
      this.#pending.set(req.id, {
        node,
        push: (m) => {
          if (m.t === "started") started = true;
          else if (m.t === "result") resolve({ value: fromWireValue(m.value) });
          else if (m.t === "error") {
            if (m.error.details?.notStarted === true) resolve({ kind: "unreachable", reason: m.error.message });
            else reject(fromWireError(m.error, node));
          }
        },
        lost: () => (started ? reject(nodeLost(node, spec)) : resolve({ kind: "unreachable", reason: `node "${node}" was lost before the call started` })),
      });
    });
    outcome.catch(() => {});
    const onAbort = () => this.#control(node, { t: "cancel", id: req.id, reason: toWireError(abortError(options.signal)) });
    try {
      const sent = await this.#send(node, req, options.signal);
      if (!("started" in sent)) return sent;
      if (sent.started) started = true;
      if (!this.#dir.isAlive(node)) this.#pending.get(req.id)?.lost();
      options.signal.addEventListener("abort", onAbort, { once: true });
      return await Promise.race([outcome, aborted(options.signal)]);
    } finally {
      options.signal.removeEventListener("abort", onAbort);
      this.#pending.delete(req.id);
    }
  }

  /**
   * Start a stream of `spec` on `node`; chunks flow with credit (`credit` ahead of the reader).
   * Breaking out of the returned generator cancels the call on the node.
   */
  async stream(node: string, spec: CallSpec, options: { mayQueue: boolean; signal: AbortSignal; credit: number }): Promise<{ chunks: AsyncGenerator<unknown, void, undefined> } | NotStarted> {
    const req = this.#request(spec, options.mayQueue, options.credit);
    const queue: ReplyMessage[] = [];
    let wake: (() => void) | undefined;
    let failure: SnakepitError | undefined;
    this.#pending.set(req.id, {
      node,
      push: (m) => {
        queue.push(m);
        wake?.();
      },
      lost: () => {
        failure ??= nodeLost(node, spec);
        wake?.();
      },
    });
    let sent: NotStarted | { started: boolean };
    try {
      sent = await this.#send(node, req, options.signal);
    } catch (err) {
      this.#pending.delete(req.id);
      throw err;
    }
    if (!("started" in sent)) {
      this.#pending.delete(req.id);
      return sent;
    }
    if (sent.started) queue.unshift({ t: "started" });
    // The stream commits once the node starts it: until then it may still move to another node.
    const beforeStart = await this.#untilStarted(node, queue, () => failure, (w) => (wake = w), options.signal);
    if (beforeStart) {
      this.#pending.delete(req.id);
      if (beforeStart.kind === "aborted") {
        this.#control(node, { t: "cancel", id: req.id, reason: toWireError(abortError(options.signal)) });
        throw abortError(options.signal);
      }
      return beforeStart;
    }
    const self = this;
    const half = Math.max(1, Math.floor(options.credit / 2));
    async function* chunks(): AsyncGenerator<unknown, void, undefined> {
      let done = false;
      let consumed = 0;
      const onAbort = () => wake?.();
      options.signal.addEventListener("abort", onAbort, { once: true });
      // A reader that stops reading still says it is there; a node stops a stream whose reader went silent.
      const keepAlive = setInterval(() => self.#control(node, { t: "credit", id: req.id, n: 0 }), self.#heartbeatMs);
      try {
        if (!self.#dir.isAlive(node)) failure ??= nodeLost(node, spec);
        for (;;) {
          const m = queue.shift();
          if (!m) {
            if (options.signal.aborted) throw abortError(options.signal);
            if (failure) throw failure;
            await new Promise<void>((r) => (wake = r));
            continue;
          }
          if (m.t === "end") {
            done = true;
            return;
          }
          if (m.t === "error") {
            done = true;
            throw fromWireError(m.error, node);
          }
          if (m.t !== "chunk") continue;
          yield fromWireValue(m.value);
          if (++consumed >= half) {
            self.#control(node, { t: "credit", id: req.id, n: consumed });
            consumed = 0;
          }
        }
      } finally {
        clearInterval(keepAlive);
        options.signal.removeEventListener("abort", onAbort);
        self.#pending.delete(req.id);
        if (!done) {
          const reason = options.signal.aborted ? abortError(options.signal) : new SnakepitError("aborted", "The reader stopped the stream");
          self.#control(node, { t: "cancel", id: req.id, reason: toWireError(reason) });
        }
      }
    }
    return { chunks: chunks() };
  }

  /** Wait for `started` at the head of the queue; else why not (lost, refused, aborted). */
  async #untilStarted(
    node: string,
    queue: ReplyMessage[],
    failure: () => SnakepitError | undefined,
    setWake: (w: (() => void) | undefined) => void,
    signal: AbortSignal,
  ): Promise<NotStarted | { kind: "aborted" } | undefined> {
    const onAbort = () => wakeUp();
    let wakeUp = () => {};
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const head = queue[0];
        if (head?.t === "started") {
          queue.shift();
          return undefined;
        }
        if (head?.t === "error" && head.error.details?.notStarted === true) return { kind: "unreachable", reason: head.error.message };
        if (head) return undefined; // an error or an outcome: the reader sees it
        if (failure()) return { kind: "unreachable", reason: `node "${node}" was lost before the stream started` };
        if (signal.aborted) return { kind: "aborted" };
        await new Promise<void>((r) => {
          wakeUp = r;
          setWake(r);
        });
        setWake(undefined);
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Tell the node holding a session to end it. */
  endSession(node: string, sessionId: string): void {
    this.#control(node, { t: "end_session", sessionId });
  }

  close(): void {
    this.#offLost();
    this.#sub.unsubscribe();
    for (const p of this.#pending.values()) p.lost();
  }
}

function remaining(timeoutMs: number | undefined): number {
  return timeoutMs === undefined || !Number.isFinite(timeoutMs) ? Infinity : timeoutMs;
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(abortError(signal));
    else signal.addEventListener("abort", () => reject(abortError(signal)), { once: true });
  });
}

/** The typed error for a call whose node was lost after it started there. */
export function nodeLost(node: string, spec: { pool: string; tool: string }): SnakepitError {
  return new SnakepitError("worker_crashed", `Node "${node}" was lost while running "${spec.tool}" (pool "${spec.pool}")`, {
    details: { node, pool: spec.pool, tool: spec.tool, nodeLost: true },
  });
}

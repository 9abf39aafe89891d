/**
 * The calling side: one attempt of a call or stream on one node. The node answers the request
 * at once (accepted, busy, or an error); the outcome and stream chunks then arrive on this
 * process's reply subject. A node that vanishes (no responders, no answer, or lost from the
 * directory) is reported as such, so the router can move calls that had not started.
 */

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { abortError, SnakepitError } from "../errors.ts";
import { openStream, type StreamLink } from "./caller-stream.ts";
import type { NodeDirectory } from "./directory.ts";
import { type AcceptReply, type CallRequest, type ControlMessage, decode, encode, fromWireError, fromWireValue, nodeLost, type ReplyMessage, type Subjects, toWireError } from "./wire.ts";

/** The request without the fields the caller fills in. */
export type CallSpec = Omit<CallRequest, "id" | "reply" | "from" | "mayQueue" | "credit">;

/** How one attempt ended before the call started on the node. */
export type NotStarted = { kind: "busy" } | { kind: "unreachable"; reason: string };

/** A call running on a node: its outcome and chunks. */
export interface Pending {
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
  readonly #link: StreamLink;

  constructor(nc: NatsConnection, options: { subjects: Subjects; client: string; dir: NodeDirectory; acceptTimeoutMs: number; heartbeatMs: number }) {
    const { subjects, client, dir } = options;
    this.#nc = nc;
    this.#subjects = subjects;
    this.#client = client;
    this.#dir = dir;
    this.#acceptTimeoutMs = options.acceptTimeoutMs;
    this.#heartbeatMs = options.heartbeatMs;
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
    this.#link = {
      request: (spec, mayQueue, credit) => this.#request(spec, mayQueue, credit),
      send: (node, req, signal) => this.#send(node, req, signal),
      control: (node, m) => this.#control(node, m),
      register: (id, pending) => void this.#pending.set(id, pending),
      unregister: (id) => void this.#pending.delete(id),
      isAlive: (node) => this.#dir.isAlive(node),
      heartbeatMs: this.#heartbeatMs,
    };
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
            if (m.error.notStarted === true) resolve({ kind: "unreachable", reason: m.error.message });
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
  stream(node: string, spec: CallSpec, options: { mayQueue: boolean; signal: AbortSignal; credit: number }): Promise<{ chunks: AsyncGenerator<unknown, void, undefined> } | NotStarted> {
    return openStream(this.#link, { node, spec, ...options });
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

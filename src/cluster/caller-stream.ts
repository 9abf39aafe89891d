/**
 * The calling side of a stream: chunks arrive on the caller's reply subject, no more than the
 * credit ahead of the reader; the reader grants credit as it reads half of it, says it is
 * still there every heartbeat, and cancels the call when it stops early.
 */

import { abortError, SnakepitError } from "../errors.ts";
import type { CallSpec, NotStarted, Pending } from "./caller.ts";
import { type CallRequest, type ControlMessage, fromWireError, fromWireValue, nodeLost, type ReplyMessage, toWireError } from "./wire.ts";

/** What a stream needs from its Caller. */
export interface StreamLink {
  request(spec: CallSpec, mayQueue: boolean, credit?: number): CallRequest;
  send(node: string, req: CallRequest, signal: AbortSignal): Promise<NotStarted | { started: boolean }>;
  control(node: string, m: ControlMessage): void;
  register(id: string, pending: Pending): void;
  unregister(id: string): void;
  isAlive(node: string): boolean;
  heartbeatMs: number;
}

/**
 * Start a stream of `spec` on `node`; chunks flow with credit (`credit` ahead of the reader).
 * Breaking out of the returned generator cancels the call on the node.
 */
export async function openStream(
  link: StreamLink,
  options: { node: string; spec: CallSpec; mayQueue: boolean; signal: AbortSignal; credit: number },
): Promise<{ chunks: AsyncGenerator<unknown, void, undefined> } | NotStarted> {
  const { node, spec } = options;
  const req = link.request(spec, options.mayQueue, options.credit);
  const queue: ReplyMessage[] = [];
  let wake: (() => void) | undefined;
  let failure: SnakepitError | undefined;
  link.register(req.id, {
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
    sent = await link.send(node, req, options.signal);
  } catch (err) {
    link.unregister(req.id);
    throw err;
  }
  if (!("started" in sent)) {
    link.unregister(req.id);
    return sent;
  }
  if (sent.started) queue.unshift({ t: "started" });
  // The stream commits once the node starts it: until then it may still move to another node.
  const beforeStart = await untilStarted(node, queue, () => failure, (w) => (wake = w), options.signal);
  if (beforeStart) {
    link.unregister(req.id);
    if (beforeStart.kind === "aborted") {
      link.control(node, { t: "cancel", id: req.id, reason: toWireError(abortError(options.signal)) });
      throw abortError(options.signal);
    }
    return beforeStart;
  }
  const half = Math.max(1, Math.floor(options.credit / 2));
  async function* chunks(): AsyncGenerator<unknown, void, undefined> {
    let done = false;
    let consumed = 0;
    const onAbort = () => wake?.();
    options.signal.addEventListener("abort", onAbort, { once: true });
    // A reader that stops reading still says it is there; a node stops a stream whose reader went silent.
    const keepAlive = setInterval(() => link.control(node, { t: "credit", id: req.id, n: 0 }), link.heartbeatMs);
    try {
      if (!link.isAlive(node)) failure ??= nodeLost(node, spec);
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
          link.control(node, { t: "credit", id: req.id, n: consumed });
          consumed = 0;
        }
      }
    } finally {
      clearInterval(keepAlive);
      options.signal.removeEventListener("abort", onAbort);
      link.unregister(req.id);
      if (!done) {
        const reason = options.signal.aborted ? abortError(options.signal) : new SnakepitError("aborted", "The reader stopped the stream");
        link.control(node, { t: "cancel", id: req.id, reason: toWireError(reason) });
      }
    }
  }
  return { chunks: chunks() };
}

/** Wait for `started` at the head of the queue; else why not (lost, refused, aborted). */
async function untilStarted(
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
      if (head?.t === "error" && head.error.notStarted === true) return { kind: "unreachable", reason: head.error.message };
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

/**
 * A multiplexed RPC channel over one pipe pair: requests, stream messages, ends, cancels and
 * stream credits in both directions, each tagged with a call id. Host-initiated and
 * worker-initiated calls have separate id spaces (the packet kind says which side asked).
 */

import { SnakepitError } from "../errors.ts";
import { encodeValue, reviveValue } from "./codec.ts";
import { encodePacket, FLAG_TYPED, type RawPacket } from "./frames.ts";
import { isPlainJson, PLAIN_DEPTH } from "./plain-json.ts";
import { dropInTransit, pruneSent, type SentRef } from "./shm-lifecycle.ts";
import { dropPeersOf } from "./shm-peer.ts";
import { shmEnabled, sweepStale } from "./shm.ts";
import type { BridgeMethods, ToolChunks } from "./messages.ts";
import { errorFromWire, errorToWire, type WireError } from "./wire-errors.ts";

/** Packet kinds. */
export const K = { REQUEST: 1, STREAM_REQUEST: 2, MESSAGE: 3, END: 4, CANCEL: 5, CREDIT: 6, MESSAGES: 7 } as const;

/** Messages a streaming caller lets the peer send before it grants more. */
export const STREAM_WINDOW = 256;

/** A decoded packet. */
export interface Packet {
  k: number;
  id: number;
  /** Method name (requests). */
  m?: string;
  msg?: unknown;
  error?: WireError;
  /** Timeout in ms (requests). */
  t?: number;
  /** Credit: initial window (stream requests) or grant (CREDIT). */
  n?: number;
}

/** Receiver of one outgoing call's replies. */
export interface CallSink {
  message?: ((msg: unknown) => void) | undefined;
  /** Consecutive stream messages' data at once (a MESSAGES packet); else `message` per message. */
  messages?: ((data: unknown[]) => void) | undefined;
  end(msg: unknown, error: SnakepitError | undefined): void;
}

/** Context given to handlers of worker-initiated requests. */
export interface InboundContext {
  signal: AbortSignal;
  timeoutMs: number | undefined;
}

/** How the host answers requests a worker sends. */
export interface InboundHandlers {
  unary(method: string, msg: Record<string, unknown>, ctx: InboundContext): Promise<unknown> | unknown;
  stream(method: string, msg: Record<string, unknown>, ctx: InboundContext): AsyncIterable<unknown>;
}

interface Inbound {
  abort: AbortController;
  credits: number;
  wake: (() => void) | undefined;
}

/** Options of one outgoing request. */
export interface RequestOptions {
  streaming?: boolean;
  timeoutMs?: number | undefined;
}

/** A MESSAGES packet's `{ seq, data: [...] }` (proto `ToolChunks`) to its sink, all at once where it can. */
function deliverBatch(sink: CallSink, msg: unknown): void {
  const { seq, data } = (msg ?? {}) as ToolChunks;
  if (!Array.isArray(data)) throw new SnakepitError("internal", "a MESSAGES packet without a data array");
  if (sink.messages) return sink.messages(data);
  const first = seq ?? 0;
  for (let i = 0; i < data.length; i++) sink.message?.({ data: data[i], seq: first + i });
}

export class Channel {
  readonly #write: (bytes: Uint8Array) => void;
  readonly #handlers: InboundHandlers;
  readonly #out = new Map<number, CallSink>();
  readonly #in = new Map<number, Inbound>();
  #nextId = 1;
  #closed: SnakepitError | undefined;
  /** Shared-memory segments sent to the peer that it may not have mapped yet: with requests (until their end), in replies. */
  readonly #shmByCall = new Map<number, SentRef[]>();
  #shm: SentRef[] = [];
  /** The worker process at the other end: only its pooled segments are mapped, and dropped when this closes. */
  peerPid: number | undefined;

  constructor(write: (bytes: Uint8Array) => void, handlers: InboundHandlers) {
    this.#write = write;
    this.#handlers = handlers;
  }

  /** Outgoing calls still waiting for their end. */
  get pending(): number {
    return this.#out.size;
  }

  /** Encode a packet (throws on values that cannot be encoded, e.g. cyclic objects). */
  #encode(packet: Packet): Uint8Array {
    // Plain JSON (a small call's usual arguments) needs no codec pass: nothing to tag or attach.
    if (packet.msg === undefined || isPlainJson(packet.msg, PLAIN_DEPTH)) return encodePacket(JSON.stringify(packet));
    const enc = encodeValue(packet.msg);
    packet.msg = enc.value;
    if (enc.shm) {
      if (packet.k === K.REQUEST || packet.k === K.STREAM_REQUEST) this.#shmByCall.set(packet.id, enc.shm);
      else this.#shm = pruneSent(this.#shm).concat(enc.shm);
    }
    return encodePacket(JSON.stringify(packet), enc.attachments, enc.typed);
  }

  #send(packet: Packet): void {
    if (this.#closed) return;
    this.#write(this.#encode(packet));
  }

  /** Send a request; replies go to `sink`. Returns the call id. */
  request(method: string, msg: unknown, sink: CallSink, options: RequestOptions = {}): number {
    if (this.#closed) throw this.#closed;
    const id = this.#nextId++;
    const packet: Packet = { k: options.streaming ? K.STREAM_REQUEST : K.REQUEST, id, m: method, msg };
    if (options.timeoutMs !== undefined && options.timeoutMs > 0 && Number.isFinite(options.timeoutMs)) {
      packet.t = Math.max(1, Math.floor(options.timeoutMs));
    }
    if (options.streaming) packet.n = STREAM_WINDOW;
    // Encode first: a value that cannot be encoded throws here, before anything is registered.
    let bytes: Uint8Array;
    try {
      bytes = this.#encode(packet);
    } catch (err) {
      throw err instanceof SnakepitError ? err : new SnakepitError("invalid_argument", `Cannot encode the ${method} message: ${(err as Error).message}`, {
        cause: err,
        details: { field: "args" },
      });
    }
    this.#out.set(id, sink);
    this.#write(bytes);
    return id;
  }

  /** Unary request to a worker as a promise (control calls: ping, heartbeat, sessions). */
  call<M extends keyof BridgeMethods>(method: M, msg: BridgeMethods[M][0], timeoutMs?: number): Promise<BridgeMethods[M][1]> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const id = this.request(method, msg, {
        end: (m, err) => {
          if (timer) clearTimeout(timer);
          if (err) reject(err);
          else resolve((m ?? {}) as BridgeMethods[M][1]);
        },
      }, { timeoutMs });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.cancel(id);
          this.#out.delete(id);
          reject(new SnakepitError("deadline_exceeded", `${method} got no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  /** Ask the peer to stop a call; its end still arrives and settles the sink. */
  cancel(id: number): void {
    if (this.#out.has(id)) this.#send({ k: K.CANCEL, id });
  }

  /** Grant a stream `n` more messages. */
  credit(id: number, n: number): void {
    if (this.#out.has(id)) this.#send({ k: K.CREDIT, id, n });
  }

  /** Forget a call whose end we no longer wait for (the worker is being replaced). */
  forget(id: number): void {
    this.#out.delete(id);
  }

  /** Feed one packet read from the worker. */
  receive(raw: RawPacket): void {
    const packet = JSON.parse(raw.json) as Packet;
    let unrevived: SnakepitError | undefined; // a value that cannot be revived fails its call only, never the channel
    if (raw.flags & FLAG_TYPED && packet.msg !== undefined) {
      try {
        packet.msg = reviveValue(packet.msg, raw.attachments, { peerPid: this.peerPid });
      } catch (err) {
        unrevived = SnakepitError.from(err);
        packet.msg = undefined;
        if (packet.k !== K.END) return this.#refuse(packet, unrevived);
      }
    }
    switch (packet.k) {
      case K.END: {
        const names = this.#shmByCall.get(packet.id);
        if (names) { // the worker decoded the request before answering: what it did not map, it never will
          this.#shmByCall.delete(packet.id);
          dropInTransit(names, { failedInternal: packet.error?.code === "internal" });
          this.#shm = pruneSent(this.#shm.concat(names)); // leases a tool still holds: retired if the worker dies
        }
        const sink = this.#out.get(packet.id);
        if (!sink) return;
        this.#out.delete(packet.id);
        sink.end(packet.msg, unrevived ?? (packet.error ? errorFromWire(packet.error) : undefined));
        return;
      }
      case K.MESSAGE:
        this.#out.get(packet.id)?.message?.(packet.msg);
        return;
      case K.MESSAGES: {
        const sink = this.#out.get(packet.id);
        if (sink) deliverBatch(sink, packet.msg);
        return;
      }
      case K.REQUEST:
      case K.STREAM_REQUEST:
        this.#serve(packet);
        return;
      case K.CANCEL:
        this.#in.get(packet.id)?.abort.abort(new SnakepitError("aborted", "the worker cancelled the call"));
        return;
      case K.CREDIT: {
        const inbound = this.#in.get(packet.id);
        if (inbound) {
          inbound.credits += packet.n ?? 0;
          inbound.wake?.();
        }
        return;
      }
      default:
        throw new SnakepitError("internal", `unknown packet kind ${String(packet.k)}`);
    }
  }

  /** A packet whose value could not be revived: its call fails with `err` (a stream is cancelled at the worker). */
  #refuse(packet: Packet, err: SnakepitError): void {
    if (packet.k === K.REQUEST || packet.k === K.STREAM_REQUEST) return this.#send({ k: K.END, id: packet.id, error: errorToWire(err) });
    const sink = this.#out.get(packet.id);
    if (!sink) return;
    this.#out.delete(packet.id);
    this.#send({ k: K.CANCEL, id: packet.id });
    sink.end(undefined, err);
  }

  #serve(packet: Packet): void {
    const inbound: Inbound = { abort: new AbortController(), credits: packet.n ?? STREAM_WINDOW, wake: undefined };
    this.#in.set(packet.id, inbound);
    const signal = packet.t
      ? AbortSignal.any([inbound.abort.signal, AbortSignal.timeout(packet.t)])
      : inbound.abort.signal;
    const ctx: InboundContext = { signal, timeoutMs: packet.t };
    const msg = (packet.msg ?? {}) as Record<string, unknown>;
    const method = packet.m ?? "";
    const done = packet.k === K.STREAM_REQUEST
      ? this.#serveStream(packet.id, method, msg, ctx, inbound)
      : Promise.resolve()
          .then(() => this.#handlers.unary(method, msg, ctx))
          .then((reply) => this.#send({ k: K.END, id: packet.id, msg: reply ?? {} }));
    done
      .catch((err: unknown) => this.#send({ k: K.END, id: packet.id, error: errorToWire(err) }))
      .finally(() => this.#in.delete(packet.id));
  }

  async #serveStream(id: number, method: string, msg: Record<string, unknown>, ctx: InboundContext, inbound: Inbound): Promise<void> {
    let seq = 0;
    for await (const data of this.#handlers.stream(method, msg, ctx)) {
      while (inbound.credits <= 0 && !ctx.signal.aborted) {
        let onAbort: (() => void) | undefined;
        await new Promise<void>((resolve) => {
          inbound.wake = resolve;
          onAbort = () => resolve();
          ctx.signal.addEventListener("abort", onAbort, { once: true });
        });
        ctx.signal.removeEventListener("abort", onAbort!);
        inbound.wake = undefined;
      }
      ctx.signal.throwIfAborted();
      inbound.credits--;
      this.#send({ k: K.MESSAGE, id, msg: { data, seq: seq++ } });
    }
    this.#send({ k: K.END, id });
  }

  /** The pipe is gone: fail every call still waiting, stop every inbound handler. */
  close(reason: SnakepitError): void {
    if (this.#closed) return;
    this.#closed = reason;
    // What the worker never mapped, and what it left in transit if it died.
    if (shmEnabled()) {
      dropInTransit([...this.#shm, ...[...this.#shmByCall.values()].flat()], { peerGone: true });
      if (this.peerPid !== undefined) dropPeersOf(this.peerPid);
      sweepStale();
    }
    const sinks = [...this.#out.values()];
    this.#out.clear();
    for (const sink of sinks) sink.end(undefined, reason);
    for (const inbound of this.#in.values()) inbound.abort.abort(reason);
    this.#in.clear();
  }
}

/**
 * What nodes say to each other over NATS: subjects under the cluster prefix, the call request,
 * the messages on a call's reply subject, control messages, and errors that keep their code,
 * details and Python facts. Values travel as the HTTP API's lossless JSON (bytes, arrays, NaN).
 */

import { encodeValue, reviveValue } from "../bridge/codec.ts";
import { isErrorCode, type PythonErrorInfo, SnakepitError } from "../errors.ts";

/** Subjects and buckets of one cluster namespace. */
export function subjects(prefix: string) {
  return {
    call: (node: string) => `${prefix}.call.${node}`,
    control: (node: string) => `${prefix}.ctl.${node}`,
    reply: (client: string, id: string) => `${prefix}.reply.${client}.${id}`,
    replies: (client: string) => `${prefix}.reply.${client}.*`,
    nodesBucket: `${prefix}-nodes`,
    sessionsBucket: `${prefix}-sessions`,
  };
}
export type Subjects = ReturnType<typeof subjects>;

/** A call sent to a node. */
export interface CallRequest {
  id: string;
  /** Subject the node publishes the outcome (and chunks) to. */
  reply: string;
  /** Who asked (node name or client id), for events. */
  from: string;
  pool: string;
  tool: string;
  args: WireValue;
  sessionId?: string;
  affinity?: string;
  /** What is left of the caller's budget. */
  timeoutMs?: number;
  idempotent?: boolean;
  idempotencyKey?: string;
  /** Chunks the node may send before the next credit (streams only). */
  credit?: number;
  /** False: answer `busy` rather than queue when no worker is free. */
  mayQueue: boolean;
}

/** The node's immediate answer to a call request. */
export type AcceptReply = { accepted: true; started?: true } | { busy: true } | { error: WireError };

/** Messages on a call's reply subject. */
export type ReplyMessage =
  | { t: "started" }
  | { t: "result"; value: WireValue }
  | { t: "chunk"; value: WireValue }
  | { t: "end" }
  | { t: "error"; error: WireError };

/** Messages to a node's control subject. */
export type ControlMessage =
  | { t: "cancel"; id: string; reason: WireError }
  | { t: "credit"; id: string; n: number }
  | { t: "end_session"; sessionId: string };

/** A SnakepitError as JSON. */
export interface WireError {
  code: string;
  message: string;
  details?: WireValue;
  python?: PythonErrorInfo;
  /** The call never started on the node: the caller may place it elsewhere. */
  notStarted?: true;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encode(message: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

export function decode<T>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

/** A value as JSON: the bridge codec's tagged form, its binary attachments in base64. */
export interface WireValue {
  v: unknown;
  b?: string[];
}

/** A host value for the wire (lossless for bytes, ndarrays, big ints, NaN), as the workers' codec does it. */
export function toWireValue(value: unknown): WireValue {
  const encoded = encodeValue(value, { shared: false }); // another machine cannot map our /dev/shm
  if (encoded.attachments.length === 0) return { v: encoded.value };
  return { v: encoded.value, b: encoded.attachments.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64")) };
}

/** A wire value back into host values. */
export function fromWireValue(wire: WireValue): unknown {
  const attachments = (wire.b ?? []).map((b) => new Uint8Array(Buffer.from(b, "base64")));
  return reviveValue(wire.v, attachments, { shared: false });
}

export function toWireError(err: unknown): WireError {
  const e = SnakepitError.from(err);
  return {
    code: e.code,
    message: e.message,
    details: toWireValue(e.details),
    ...(e.python ? { python: e.python } : {}),
    ...(e.details.notStarted === true ? { notStarted: true as const } : {}),
  };
}

/** Back into a SnakepitError; `node` is added to the details (which node said so). */
export function fromWireError(wire: WireError, node?: string): SnakepitError {
  const code = isErrorCode(wire.code) ? wire.code : "internal";
  const sent = (wire.details ? fromWireValue(wire.details) : {}) as Record<string, unknown>;
  const details = { ...sent, ...(node !== undefined && !("node" in sent) ? { node } : {}) };
  return new SnakepitError(code, wire.message, { details, ...(wire.python ? { python: wire.python } : {}) });
}

/** The typed error for a call whose node was lost after it started there. */
export function nodeLost(node: string, spec: { pool: string; tool: string }): SnakepitError {
  return new SnakepitError("worker_crashed", `Node "${node}" was lost while running "${spec.tool}" (pool "${spec.pool}")`, {
    details: { node, pool: spec.pool, tool: spec.tool, nodeLost: true },
  });
}

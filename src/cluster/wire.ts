/**
 * What nodes say to each other over NATS: subjects under the cluster prefix, the call request,
 * the messages on a call's reply subject, control messages, and errors that keep their code,
 * details and Python facts. Values travel as the HTTP API's lossless JSON (bytes, arrays, NaN).
 */

import { fromHttpJson, toHttpJson } from "../api/http-json.ts";
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
  args: unknown;
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
  | { t: "result"; value: unknown }
  | { t: "chunk"; value: unknown }
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
  details?: Record<string, unknown>;
  python?: PythonErrorInfo;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encode(message: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

export function decode<T>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

/** A host value for the wire (lossless for bytes, ndarrays, big ints, NaN). */
export const toWireValue = toHttpJson;
/** A wire value back into host values. */
export const fromWireValue = fromHttpJson;

export function toWireError(err: unknown): WireError {
  const e = SnakepitError.from(err);
  return { code: e.code, message: e.message, details: toHttpJson(e.details) as Record<string, unknown>, ...(e.python ? { python: e.python } : {}) };
}

/** Back into a SnakepitError; `node` is added to the details (which node said so). */
export function fromWireError(wire: WireError, node?: string): SnakepitError {
  const code = isErrorCode(wire.code) ? wire.code : "internal";
  const details = { ...(fromHttpJson(wire.details ?? {}) as Record<string, unknown>), ...(node !== undefined && !("node" in (wire.details ?? {})) ? { node } : {}) };
  return new SnakepitError(code, wire.message, { details, ...(wire.python ? { python: wire.python } : {}) });
}

/** The typed error for a call whose node was lost after it started there. */
export function nodeLost(node: string, spec: { pool: string; tool: string }): SnakepitError {
  return new SnakepitError("worker_crashed", `Node "${node}" was lost while running "${spec.tool}" (pool "${spec.pool}")`, {
    details: { node, pool: spec.pool, tool: spec.tool, nodeLost: true },
  });
}

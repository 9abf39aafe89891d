/**
 * Error responses of the HTTP API: `{ code, message, details }` JSON with the status from one
 * table. On Connect routes the same error goes out the way the caller's protocol expects
 * (Connect JSON error, Connect end-stream frame, or gRPC-web trailers), so Connect clients and
 * buf curl show the message of errors made before the Connect handler runs (auth, size, 404, 405).
 */

import { codeToHttpStatus, endStreamFlag, errorToJson } from "@connectrpc/connect/protocol-connect";
import type { Context } from "hono";
import { SnakepitError } from "../errors.ts";
import { toConnectError } from "./error-info.ts";
import { HTTP_STATUS } from "./status.ts";

export type ApiEnv = { Variables: { requestId: string } };

/** Path prefix of the Connect service routes. */
export const CONNECT_PREFIX = "/snakepit.api.v1.ControlService/";

function headersFor(e: SnakepitError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (e.code === "pool_saturated" || e.code === "session_limit") headers["retry-after"] = "1";
  if (e.code === "unauthenticated") headers["www-authenticate"] = 'Bearer realm="snakepit"';
  return headers;
}

function connectErrorResponse(e: SnakepitError, requestId: string, type: string, status?: number): Response {
  const ce = toConnectError(e, requestId);
  const headers = new Headers(headersFor(e));
  headers.set("x-request-id", requestId);
  headers.set("x-snakepit-code", e.code);
  if (type.startsWith("application/grpc-web")) {
    // Trailers-only response: the status travels in the headers.
    headers.set("content-type", type.includes("text") ? "application/grpc-web-text+proto" : "application/grpc-web+proto");
    headers.set("grpc-status", String(ce.code));
    headers.set("grpc-message", encodeURIComponent(ce.rawMessage));
    return new Response(null, { status: 200, headers });
  }
  const json = errorToJson(ce, undefined);
  if (type.startsWith("application/connect+")) {
    // A streaming call: one end-stream frame holding the error.
    const payload = new TextEncoder().encode(JSON.stringify({ error: json }));
    const frame = new Uint8Array(5 + payload.length);
    frame[0] = endStreamFlag;
    new DataView(frame.buffer).setUint32(1, payload.length);
    frame.set(payload, 5);
    // The end-stream frame is JSON whatever the codec; the content type echoes the request's.
    headers.set("content-type", type.startsWith("application/connect+proto") ? "application/connect+proto" : "application/connect+json");
    return new Response(frame, { status: 200, headers });
  }
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify(json), { status: status ?? codeToHttpStatus(ce.code), headers });
}

/** The response for `err` on this request; `status` overrides the table (405). */
export function errorResponse(c: Context<ApiEnv>, err: unknown, options: { status?: number; headers?: Record<string, string> } = {}): Response {
  const e = SnakepitError.from(err);
  if (e.code === "internal" && !(err instanceof SnakepitError)) console.error("snakepit api: unexpected error", err);
  const requestId = c.get("requestId") ?? "";
  if (c.req.path.startsWith(CONNECT_PREFIX)) {
    const res = connectErrorResponse(e, requestId, (c.req.header("content-type") ?? "").toLowerCase(), options.status);
    for (const [k, v] of Object.entries(options.headers ?? {})) res.headers.set(k, v);
    return res;
  }
  const body = e.toJSON();
  body.details = { ...body.details, requestId };
  return c.json(body, (options.status ?? HTTP_STATUS[e.code]) as 400, { ...headersFor(e), ...options.headers });
}

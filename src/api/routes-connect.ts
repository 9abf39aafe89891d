/**
 * ControlService over Connect and gRPC-web on the HTTP port, each method declared as a POST
 * operation in the OpenAPI document (Connect's unary JSON form; streams as enveloped
 * `application/connect+json`). JSON bodies pass the depth limit before decoding.
 */

import { type DescMessage, fromBinary, type JsonValue } from "@bufbuild/protobuf";
import { createFetchHandler, type UniversalHandler } from "@connectrpc/connect/protocol";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { ControlService } from "../bridge/gen/snakepit/api/v1/control_pb.ts";
import { SnakepitError } from "../errors.ts";
import { connectHandlers } from "./connect.ts";
import { CONNECT_PREFIX, type ApiEnv, errorResponse } from "./errors.ts";
import { decodeUtf8 } from "./body.ts";
import { checkJsonDepth } from "./json-guard.ts";
import { COMMON_ERRORS, define, type RouteTable } from "./route.ts";
import type { RouteDeps } from "./routes-calls.ts";
import { PoolInfo, ToolInfo, Value } from "./schemas.ts";
import { clientAddress } from "./stream-slots.ts";

/** Header the app sets (never trusted from outside) to tell the service who calls. */
export const CLIENT_HEADER = "x-snakepit-client";

const ExecuteRequest = z.object({
  tool: z.string(),
  args: z.record(z.string(), Value).optional().describe("google.protobuf.Struct: named arguments"),
  pool: z.string().optional(),
  sessionId: z.string().optional(),
  timeoutMs: z.number().int().min(0).optional(),
  affinity: z.enum(["hint", "strict_queue", "strict_fail_fast"]).optional(),
  idempotent: z.boolean().optional(),
}).openapi("ControlExecuteRequest");
const ConnectError = z.object({
  code: z.string().describe("Connect code, e.g. invalid_argument, deadline_exceeded"),
  message: z.string(),
  details: z.array(z.object({ type: z.string(), value: z.string(), debug: z.record(z.string(), z.unknown()).optional() })).optional().describe("snakepit.api.v1.ErrorInfo: code, python type and traceback"),
}).openapi("ConnectError");
const connectErrors = Object.fromEntries(Object.entries(COMMON_ERRORS).map(([status, r]) => [status, { description: r.description, content: { "application/json": { schema: ConnectError } } }]));
const WorkerMsg = z.object({ id: z.string(), pool: z.string(), pid: z.number().int(), state: z.string(), inFlight: z.number().int(), capacity: z.number().int(), requests: z.string().describe("uint64 as a decimal string"), uptimeMs: z.string().describe("uint64 as a decimal string") }).openapi("ControlWorker");

const METHODS = [
  { name: "Execute", op: "controlExecute", summary: "Run a tool (Connect unary)", input: ExecuteRequest, output: z.object({ result: Value }), streaming: false },
  { name: "Stream", op: "controlStream", summary: "Run a streaming tool (Connect server stream: enveloped application/connect+json)", input: ExecuteRequest, output: z.object({ data: Value }), streaming: true },
  { name: "ListWorkers", op: "controlListWorkers", summary: "Workers (Connect unary)", input: z.object({ pool: z.string().optional() }), output: z.object({ workers: z.array(WorkerMsg) }), streaming: false },
  { name: "RecycleWorker", op: "controlRecycleWorker", summary: "Replace a worker (Connect unary)", input: z.object({ workerId: z.string() }), output: z.object({ replacedBy: z.string() }), streaming: false },
  { name: "ListPools", op: "controlListPools", summary: "Pools (Connect unary)", input: z.object({}), output: z.object({ pools: z.array(PoolInfo) }), streaming: false },
  { name: "ListTools", op: "controlListTools", summary: "Tools (Connect unary)", input: z.object({ pool: z.string().optional() }), output: z.object({ tools: z.array(ToolInfo) }), streaming: false },
] as const;

/** The single message of an enveloped request body (Connect stream, gRPC-web), if uncompressed. */
function envelopePayload(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 5 || (bytes[0]! & 0x01) !== 0) return undefined;
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  return bytes.subarray(5, 5 + len);
}

/**
 * Check the request message before the Connect handler decodes it: JSON against the depth
 * limit (one pass over the text), binary by a trial decode, so a message nested past
 * protobuf's recursion limit is a 400 invalid_argument, not a 500.
 */
function checkMessage(type: string, bytes: Uint8Array, input: DescMessage, maxDepth: number): void {
  const enveloped = type.startsWith("application/connect+") || type.startsWith("application/grpc-web+") || type === "application/grpc-web";
  const message = enveloped ? envelopePayload(bytes) : bytes;
  if (message === undefined) return;
  if (type.includes("json")) {
    checkJsonDepth(decodeUtf8(message, "The message"), maxDepth, "args");
    return;
  }
  try {
    fromBinary(input, message);
  } catch (err) {
    const text = (err as Error).message;
    // Only a message nested past protobuf's recursion limit is about server.limits.maxDepth.
    const depth = /recursion depth/i.test(text);
    throw new SnakepitError("invalid_argument", `Cannot decode the ${input.typeName} message: ${text}${depth ? ` (server.limits.maxDepth is ${maxDepth})` : ""}`, {
      details: depth ? { field: "body", limit: "maxDepth", maxDepth } : { field: "body" },
    });
  }
}

/** Media types the Connect handler speaks; others are left to it (it answers 415 with the accepted types). */
const CONNECT_TYPES = /^application\/(?:json|proto|connect\+(?:json|proto)|grpc-web(?:\+(?:json|proto))?)(?:;|$)/;

/** Connect's unary media types (charset utf-8 or none). */
const UNARY = /^application\/(?:json|proto)(?:;\s*charset=utf-?8)?$/i;

/**
 * A unary call handed to Connect's universal handler with its body already read, and its one-message answer turned into a Response directly: no request copy, no
 * body streams either way (they cost more than the call itself).
 */
async function unary(handler: UniversalHandler, raw: Request, header: Headers, body: Uint8Array): Promise<Response> {
  // Connect takes a byte body that is not a stream as the whole message.
  const res = await handler({ httpVersion: "1.1", method: raw.method, url: raw.url, header, body: body as unknown as JsonValue, signal: raw.signal });
  const parts: Uint8Array[] = [];
  if (res.body) for await (const part of res.body) parts.push(part);
  // Trailers of a unary Connect call are already in the header (trailer-*), as the fetch adapter has them.
  const bytes = (parts.length === 1 ? parts[0]! : Buffer.concat(parts)) as Uint8Array<ArrayBuffer>;
  return new Response(res.body ? bytes : null, { status: res.status, headers: res.header ?? new Headers() });
}

export function connectRoutes(app: OpenAPIHono<ApiEnv>, table: RouteTable, deps: RouteDeps): void {
  const handlers = connectHandlers(deps.pit, {
    limits: deps.limits,
    slots: deps.slots,
    maxBodyBytes: deps.maxBodyBytes,
    client: (ctx) => ctx.requestHeader.get(CLIENT_HEADER) ?? "local",
  });
  for (const m of METHODS) {
    const path = `${CONNECT_PREFIX}${m.name}`;
    const handler = handlers.get(path);
    const input = ControlService.methods.find((d) => d.name === m.name)!.input;
    if (!handler) throw new SnakepitError("internal", `ControlService has no method ${m.name}`);
    const viaFetch = createFetchHandler(handler);
    const bodyType = m.streaming ? "application/connect+json" : "application/json";
    define(app, table, createRoute({
      method: "post", path, operationId: m.op, tags: ["connect"], summary: m.summary,
      description: "Also speaks Connect binary (application/proto), gRPC-web, and gRPC on --grpc-port. Request bodies may be gzip (Content-Encoding / Connect-Content-Encoding).",
      request: {
        headers: z.object({ "connect-timeout-ms": z.string().regex(/^\d{1,10}$/).optional().openapi({ param: { name: "connect-timeout-ms", in: "header" }, description: "Deadline in ms; expiry answers deadline_exceeded" }) }),
        body: { required: true, content: { [bodyType]: { schema: m.input } } },
      },
      responses: { 200: { description: m.streaming ? "Enveloped messages, then an end-stream frame" : "The response message", content: { [bodyType]: { schema: m.output } } }, ...connectErrors },
    }), async (c) => {
      const raw = c.req.raw;
      const headers = new Headers(raw.headers);
      // Only streams are capped per client; a client-sent value never stands.
      if (m.streaming) headers.set(CLIENT_HEADER, clientAddress(raw, c.env));
      else headers.delete(CLIENT_HEADER);
      headers.set("x-request-id", c.get("requestId"));
      const type = (headers.get("content-type") ?? "").toLowerCase();
      const encoded = headers.has("content-encoding") || headers.has("connect-content-encoding");
      if (!CONNECT_TYPES.test(type) && !type.startsWith("application/grpc-web-text")) {
        const err = new SnakepitError("invalid_argument", `Content-Type ${type ? `"${type}"` : "(none)"} is not a Connect or gRPC-web type: use application/json or application/proto (unary), application/connect+json or application/connect+proto (streams), or application/grpc-web+proto`, { details: { field: "content-type" } });
        return errorResponse(c, err, { status: 415 });
      }
      // raw.body only where Connect must read it (compressed, base64): touching it costs a stream.
      let body: BodyInit | null;
      if (!encoded && CONNECT_TYPES.test(type)) {
        const bytes = new Uint8Array(await raw.arrayBuffer());
        checkMessage(type, bytes, input, deps.limits.maxDepth);
        if (!m.streaming && UNARY.test(type)) return await unary(handler, raw, headers, bytes);
        body = bytes;
      } else {
        body = raw.body;
      }
      return await viaFetch(new Request(raw.url, { method: raw.method, headers, body, signal: raw.signal }));
    });
  }
}

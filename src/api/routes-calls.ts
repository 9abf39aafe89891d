/** Routes that run tools and manage sessions: /v1/execute, /v1/stream, /v1/sessions. */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { SnakepitError } from "../errors.ts";
import { readBody } from "./body.ts";
import { budgetOf, explainDeadline } from "./deadline-note.ts";
import type { ApiEnv } from "./errors.ts";
import { fromHttpJson, toHttpJson } from "./http-json.ts";
import type { ApiLimits } from "./limits.ts";
import { COMMON_ERRORS, define, type RouteTable } from "./route.ts";
import { CreateSessionBody, ErrorBody, ExecuteBody, ExecuteResult, SessionInfo } from "./schemas.ts";
import { clientAddress, type StreamSlots } from "./stream-slots.ts";
import { pullStream } from "./streams.ts";
import type { Snakepit } from "../snakepit.ts";
import { sessionView } from "./views.ts";

export interface RouteDeps {
  pit: Snakepit;
  limits: ApiLimits;
  maxBodyBytes: number;
  slots: StreamSlots;
}

const jsonBody = <S extends z.ZodType>(schema: S, required = true) => ({ required, content: { "application/json": { schema } } });
const idParam = z.object({ id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }) });

/** Who calls, as the caller names itself: queued calls are served fairly between names (docs/api.md). */
const FAIRNESS_HEADER = "x-snakepit-client";

function clientOf(req: Request): string | undefined {
  const name = req.headers.get(FAIRNESS_HEADER);
  if (name === null) return undefined;
  if (name.length === 0 || name.length > 128) {
    throw new SnakepitError("invalid_argument", `Header ${FAIRNESS_HEADER} must be 1 to 128 characters (got ${name.length})`, { details: { header: FAIRNESS_HEADER } });
  }
  return name;
}

function callOptions(body: ExecuteBody, signal: AbortSignal, client: string | undefined) {
  return {
    signal,
    ...(client !== undefined ? { client } : {}),
    ...(body.pool !== undefined ? { pool: body.pool } : {}),
    ...(body.session_id !== undefined ? { sessionId: body.session_id } : {}),
    ...(body.timeout_ms !== undefined ? { timeoutMs: body.timeout_ms } : {}),
    ...(body.affinity !== undefined ? { affinity: body.affinity } : {}),
    ...(body.idempotent !== undefined ? { idempotent: body.idempotent } : {}),
  };
}

export function callRoutes(app: OpenAPIHono<ApiEnv>, table: RouteTable, deps: RouteDeps): void {
  const { pit, limits, maxBodyBytes, slots } = deps;

  define(app, table, createRoute({
    method: "post", path: "/v1/execute", operationId: "execute", tags: ["calls"], summary: "Run a tool",
    request: { body: jsonBody(ExecuteBody) },
    responses: { 200: { description: "The tool's result", content: { "application/json": { schema: ExecuteResult } } }, 404: { description: "Unknown tool", content: { "application/json": { schema: ErrorBody } } }, ...COMMON_ERRORS },
  }), async (c) => {
    const body = await readBody(c, ExecuteBody, limits, maxBodyBytes);
    const args = fromHttpJson(body.args) as Record<string, unknown>;
    try {
      const result = await pit.execute(body.tool, args, callOptions(body, c.req.raw.signal, clientOf(c.req.raw)));
      return c.json({ result: toHttpJson(result) });
    } catch (err) {
      throw explainDeadline(err, budgetOf(pit, body.pool, body.timeout_ms));
    }
  });

  define(app, table, createRoute({
    method: "post", path: "/v1/stream", operationId: "stream", tags: ["calls"],
    summary: "Run a streaming tool: SSE (Accept: text/event-stream) or NDJSON (default)",
    request: { body: jsonBody(ExecuteBody) },
    responses: {
      200: {
        description: "NDJSON lines {chunk} then {end:true} or {error}; SSE events chunk, end, error",
        content: {
          "application/x-ndjson": { schema: z.object({ chunk: z.unknown().optional(), end: z.boolean().optional(), error: ErrorBody.optional() }) },
          "text/event-stream": { schema: z.string().describe("SSE: `event: chunk|end|error`, `data: <JSON>`") },
        },
      },
      ...COMMON_ERRORS,
    },
  }), async (c) => {
    const body = await readBody(c, ExecuteBody, limits, maxBodyBytes);
    const args = fromHttpJson(body.args) as Record<string, unknown>;
    const client = clientOf(c.req.raw);
    const release = slots.acquire(clientAddress(c.req.raw, c.env), "stream");
    const ac = new AbortController();
    const onClientGone = () => ac.abort(new SnakepitError("aborted", "The client went away"));
    c.req.raw.signal.addEventListener("abort", onClientGone, { once: true });
    const budget = budgetOf(pit, body.pool, body.timeout_ms, true);
    const chunks = pit.stream(body.tool, args, callOptions(body, ac.signal, client));
    let first;
    try {
      // Fail before the 200 when the call cannot start (unknown tool, bad arguments, saturation).
      first = await chunks.next();
    } catch (err) {
      release();
      c.req.raw.signal.removeEventListener("abort", onClientGone);
      throw explainDeadline(err, budget);
    }
    const sse = (c.req.header("accept") ?? "").includes("text/event-stream");
    const encoder = new TextEncoder();
    const frame = (kind: "chunk" | "end" | "error", data: unknown) =>
      encoder.encode(sse
        ? `event: ${kind}\ndata: ${JSON.stringify(data)}\n\n`
        : JSON.stringify(kind === "chunk" ? { chunk: data } : kind === "end" ? { end: true } : { error: data }) + "\n");
    const stream = pullStream(chunks, {
      item: (chunk) => frame("chunk", toHttpJson(chunk)),
      end: () => frame("end", {}),
      error: (err) => frame("error", SnakepitError.from(explainDeadline(err, budget)).toJSON()),
      keepAlive: encoder.encode(sse ? ": keep-alive\n\n" : "\n"),
    }, {
      first,
      onClose: () => {
        release();
        c.req.raw.signal.removeEventListener("abort", onClientGone);
        ac.abort(new SnakepitError("aborted", "The client closed the stream"));
      },
    });
    return new Response(stream, {
      headers: { "content-type": sse ? "text/event-stream" : "application/x-ndjson", "cache-control": "no-store", "x-request-id": c.get("requestId") },
    });
  });

  define(app, table, createRoute({
    method: "post", path: "/v1/sessions", operationId: "createSession", tags: ["sessions"], summary: "Create a session",
    request: { body: jsonBody(CreateSessionBody, false) },
    responses: { 201: { description: "The session", content: { "application/json": { schema: SessionInfo } } }, ...COMMON_ERRORS },
  }), async (c) => {
    const body = await readBody(c, CreateSessionBody, limits, maxBodyBytes);
    const id = body.id ?? body.session_id ?? crypto.randomUUID();
    const field = body.id !== undefined ? "id" : "session_id";
    if (pit.sessions.get(id)) throw new SnakepitError("invalid_argument", `Session "${id}" already exists`, { details: { field } });
    pit.session(id, { ...(body.ttl_ms ? { ttlMs: body.ttl_ms } : {}), ...(body.metadata ? { metadata: body.metadata } : {}) });
    return c.json(sessionView(pit.sessions.get(id)!), 201, { location: `/v1/sessions/${encodeURIComponent(id)}` });
  });

  define(app, table, createRoute({
    method: "get", path: "/v1/sessions", operationId: "listSessions", tags: ["sessions"], summary: "List sessions",
    responses: { 200: { description: "Sessions", content: { "application/json": { schema: z.object({ sessions: z.array(SessionInfo) }) } } }, 401: COMMON_ERRORS[401] },
  }), (c) => c.json({ sessions: pit.sessions.list().map(sessionView) }));

  const notFound = (id: string) => new SnakepitError("session_not_found", `No session "${id}" (it may have expired)`, { details: { session: id } });
  define(app, table, createRoute({
    method: "get", path: "/v1/sessions/{id}", operationId: "getSession", tags: ["sessions"], summary: "One session (touches it)",
    request: { params: idParam },
    responses: { 200: { description: "The session", content: { "application/json": { schema: SessionInfo } } }, 401: COMMON_ERRORS[401], 404: { description: "No such session", content: { "application/json": { schema: ErrorBody } } } },
  }), (c) => {
    const s = pit.sessions.get(c.req.param("id")!);
    if (!s) throw notFound(c.req.param("id")!);
    return c.json(sessionView(s));
  });

  define(app, table, createRoute({
    method: "delete", path: "/v1/sessions/{id}", operationId: "deleteSession", tags: ["sessions"], summary: "End a session: its Python state and host tools are dropped",
    request: { params: idParam },
    responses: { 204: { description: "Deleted" }, 401: COMMON_ERRORS[401], 404: { description: "No such session", content: { "application/json": { schema: ErrorBody } } } },
  }), (c) => {
    if (!pit.sessions.delete(c.req.param("id")!)) throw notFound(c.req.param("id")!);
    return c.body(null, 204);
  });
}

/**
 * The HTTP control API (Hono): health, execute, stream (SSE or NDJSON), workers, pools, tools,
 * OpenAPI, and the same operations as a Connect service. `createApp(deps)` returns the app;
 * tests call `app.request()` with no port.
 */

import { detectHardware } from "../hardware/detect.ts";
import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import type { z } from "zod";
import { isLoopback } from "../config/loopback.ts";
import { SnakepitError } from "../errors.ts";
import type { Snakepit } from "../snakepit.ts";
import { connectHandlers } from "./connect.ts";
import { fromHttpJson, toHttpJson } from "./http-json.ts";
import { openApiDocument } from "./openapi.ts";
import { CreateSessionBody, ExecuteBody } from "./schemas.ts";
import { pullStream } from "./streams.ts";
import { anyGlob } from "../telemetry/glob.ts";
import { HTTP_STATUS } from "./status.ts";
import { listPools, listTools, sessionView } from "./views.ts";
import { clusterView } from "../cluster/view.ts";

/** What the API needs. */
export interface AppDeps {
  pit: Snakepit;
  /** Bearer token required on every route but /healthz, /readyz and /openapi.json. @default none */
  token?: string | undefined;
  /** Largest request body accepted. @default 16 MiB */
  maxBodyBytes?: number;
  /** Version shown in /openapi.json and /healthz. */
  version?: string;
}

type Env = { Variables: { requestId: string } };

function errorResponse(c: Context<Env>, err: unknown): Response {
  const e = SnakepitError.from(err);
  const body = e.toJSON();
  body.details = { ...body.details, requestId: c.get("requestId") };
  if (e.code === "internal" && !(err instanceof SnakepitError)) console.error("snakepit api: unexpected error", err);
  const headers: Record<string, string> = {};
  if (e.code === "pool_saturated") headers["retry-after"] = "1";
  if (e.code === "unauthenticated") headers["www-authenticate"] = 'Bearer realm="snakepit"';
  return c.json(body, HTTP_STATUS[e.code] as 400, headers);
}

async function readBody<S extends z.ZodType>(c: Context<Env>, schema: S): Promise<z.output<S>> {
  const type = c.req.header("content-type") ?? "";
  const text = await c.req.text();
  // The media type itself must be JSON: "text/plain; application/json" is a browser's CORS-free
  // "simple" request and must not pass.
  if (text.length > 0 && type.split(";")[0]!.trim().toLowerCase() !== "application/json") {
    throw new SnakepitError("invalid_argument", `Content-Type must be application/json, got ${type ? `"${type}"` : "none"}`, { details: { field: "content-type" } });
  }
  let raw: unknown;
  try {
    raw = text.length === 0 ? {} : JSON.parse(text);
  } catch (err) {
    throw new SnakepitError("invalid_argument", `Malformed JSON body: ${(err as Error).message}`, { details: { field: "body" } });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".") || (issue.code === "unrecognized_keys" ? issue.keys.join(", ") : "body");
    throw new SnakepitError("invalid_argument", `Invalid request body: ${field}: ${issue.message}`, {
      details: { field, issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    });
  }
  return parsed.data;
}

function callOptions(body: ExecuteBody, signal: AbortSignal) {
  return {
    signal,
    ...(body.pool !== undefined ? { pool: body.pool } : {}),
    ...(body.session_id !== undefined ? { sessionId: body.session_id } : {}),
    ...(body.timeout_ms !== undefined ? { timeoutMs: body.timeout_ms } : {}),
    ...(body.affinity !== undefined ? { affinity: body.affinity } : {}),
    ...(body.idempotent !== undefined ? { idempotent: body.idempotent } : {}),
  };
}

function sameToken(given: string, expected: string): boolean {
  // Compare digests: equal lengths, so neither the token nor its length leaks through timing.
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Without a token, only this machine's own programs may call: the Host header must name a
 * loopback address (DNS rebinding) and a browser request must come from a loopback page
 * (cross-site form posts and fetches).
 */
function checkLocalOnly(c: Context<Env>): void {
  const host = c.req.header("host") ?? "";
  if (host && !isLoopback(host)) {
    throw new SnakepitError("unauthenticated", `Host "${host}" is not a loopback address; set a token to serve other names`);
  }
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== "null") {
    let originHost = "";
    try {
      originHost = new URL(origin).host;
    } catch {
      // unparsable: refused below
    }
    if (!isLoopback(originHost)) throw new SnakepitError("unauthenticated", `Requests from ${origin} are refused; set a token to allow other origins`);
  } else if (origin === "null" || c.req.header("sec-fetch-site") === "cross-site") {
    throw new SnakepitError("unauthenticated", "Cross-site requests are refused; set a token to allow them");
  }
}

/** Build the API over a running Snakepit. */
export function createApp(deps: AppDeps): Hono<Env> {
  const { pit, token } = deps;
  const maxBody = deps.maxBodyBytes ?? 16 * 1024 * 1024;
  const version = deps.version ?? "0.0.0";
  const app = new Hono<Env>();
  const connect = connectHandlers(pit);

  app.use(requestId());
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => errorResponse(c, new SnakepitError("not_found", `No route ${c.req.method} ${c.req.path}; see /openapi.json`, { details: { path: c.req.path } })));

  app.get("/healthz", (c) => c.json({ status: "ok", version }));
  app.get("/readyz", (c) => {
    const health = pit.health();
    return c.json(health, health.ready ? 200 : 503);
  });
  app.get("/openapi.json", (c) => c.json(openApiDocument(version)));

  if (!token) {
    app.use("*", async (c, next) => {
      checkLocalOnly(c);
      await next();
    });
  } else {
    app.use("*", async (c, next) => {
      const header = c.req.header("authorization");
      if (!header) throw new SnakepitError("unauthenticated", "Missing bearer token: send Authorization: Bearer <token>");
      const match = /^Bearer\s+(.+)$/i.exec(header);
      if (!match || !sameToken(match[1]!.trim(), token)) throw new SnakepitError("unauthenticated", "Wrong bearer token");
      await next();
    });
  }
  app.use("*", bodyLimit({
    maxSize: maxBody,
    onError: () => {
      throw new SnakepitError("payload_too_large", `Request body is larger than ${maxBody} bytes`, { details: { maxBodyBytes: maxBody } });
    },
  }));

  app.post("/v1/execute", async (c) => {
    const body = await readBody(c, ExecuteBody);
    const args = fromHttpJson(body.args) as Record<string, unknown>;
    const result = await pit.execute(body.tool, args, callOptions(body, c.req.raw.signal));
    return c.json({ result: toHttpJson(result) });
  });

  app.post("/v1/stream", async (c) => {
    const body = await readBody(c, ExecuteBody);
    const args = fromHttpJson(body.args) as Record<string, unknown>;
    const ac = new AbortController();
    const onClientGone = () => ac.abort(new SnakepitError("aborted", "The client went away"));
    c.req.raw.signal.addEventListener("abort", onClientGone, { once: true });
    const chunks = pit.stream(body.tool, args, callOptions(body, ac.signal));
    // Fail before the 200 when the call cannot start (unknown tool, bad arguments, saturation).
    const first = await chunks.next();
    const sse = (c.req.header("accept") ?? "").includes("text/event-stream");
    const encoder = new TextEncoder();
    const frame = (kind: "chunk" | "end" | "error", data: unknown) =>
      encoder.encode(sse
        ? `event: ${kind}\ndata: ${JSON.stringify(data)}\n\n`
        : JSON.stringify(kind === "chunk" ? { chunk: data } : kind === "end" ? { end: true } : { error: data }) + "\n");
    const stream = pullStream(chunks, {
      item: (chunk) => frame("chunk", toHttpJson(chunk)),
      end: () => frame("end", {}),
      error: (err) => frame("error", SnakepitError.from(err).toJSON()),
      keepAlive: encoder.encode(sse ? ": keep-alive\n\n" : "\n"),
    }, {
      first,
      onClose: () => {
        c.req.raw.signal.removeEventListener("abort", onClientGone);
        ac.abort(new SnakepitError("aborted", "The client closed the stream"));
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": sse ? "text/event-stream" : "application/x-ndjson",
        "cache-control": "no-store",
        "x-request-id": c.get("requestId"),
      },
    });
  });

  app.post("/v1/sessions", async (c) => {
    const body = await readBody(c, CreateSessionBody);
    const id = body.session_id ?? crypto.randomUUID();
    if (pit.sessions.get(id)) throw new SnakepitError("invalid_argument", `Session "${id}" already exists`, { details: { field: "session_id" } });
    pit.session(id, { ...(body.ttl_ms ? { ttlMs: body.ttl_ms } : {}), ...(body.metadata ? { metadata: body.metadata } : {}) });
    return c.json(sessionView(pit.sessions.get(id)!), 201);
  });
  app.get("/v1/sessions", (c) => c.json({ sessions: pit.sessions.list().map(sessionView) }));
  app.get("/v1/sessions/:id", (c) => {
    const s = pit.sessions.get(c.req.param("id"));
    if (!s) throw new SnakepitError("session_not_found", `No session "${c.req.param("id")}" (it may have expired)`, { details: { session: c.req.param("id") } });
    return c.json(sessionView(s));
  });
  app.delete("/v1/sessions/:id", (c) => {
    if (!pit.sessions.delete(c.req.param("id"))) {
      throw new SnakepitError("session_not_found", `No session "${c.req.param("id")}"`, { details: { session: c.req.param("id") } });
    }
    return c.body(null, 204);
  });

  app.get("/metrics", async (c) => {
    const text = await pit.telemetry.metrics();
    if (text === undefined) throw new SnakepitError("not_found", "Metrics are off (telemetry.metrics: false)");
    return c.body(text, 200, { "content-type": pit.telemetry.metricsContentType });
  });

  app.get("/v1/events", (c) => {
    const names = c.req.query("names")?.split(",").map((n) => n.trim()).filter(Boolean);
    try {
      if ((names?.length ?? 0) > 32) throw new Error("at most 32 globs");
      anyGlob(names);
    } catch (err) {
      throw new SnakepitError("invalid_argument", `Bad name glob: ${(err as Error).message}`, { details: { field: "names" } });
    }
    const ac = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => ac.abort(), { once: true });
    const encoder = new TextEncoder();
    const events = pit.telemetry.events({ ...(names?.length ? { names } : {}), signal: ac.signal });
    const stream = pullStream(events, {
      item: (e) => encoder.encode(`event: ${e.name}\ndata: ${JSON.stringify({ time: e.time, ...toHttpJson(e.data) as object })}\n\n`),
      end: () => new Uint8Array(0),
      error: (err) => encoder.encode(`event: error\ndata: ${JSON.stringify(SnakepitError.from(err).toJSON())}\n\n`),
      keepAlive: encoder.encode(": keep-alive\n\n"),
    }, { onClose: () => ac.abort() });
    return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-store" } });
  });

  app.get("/v1/workers", (c) => c.json({ workers: pit.listWorkers() }));
  app.get("/v1/hardware", async (c) => c.json(await detectHardware({ refresh: c.req.query("refresh") === "1" })));
  app.post("/v1/workers/:id/recycle", async (c) => c.json({ replacedBy: await pit.recycleWorker(c.req.param("id")) }));
  app.get("/v1/pools", (c) => c.json({ pools: listPools(pit) }));
  app.get("/v1/cluster", (c) => c.json(clusterView(pit)));
  app.get("/v1/tools", (c) => {
    const pool = c.req.query("pool");
    return c.json({ tools: listTools(pit, pool) });
  });

  app.post("/snakepit.api.v1.ControlService/:method", (c) => {
    const handler = connect.get(c.req.path);
    if (!handler) throw new SnakepitError("not_found", `No Connect method ${c.req.path}`);
    return handler(c.req.raw);
  });

  return app;
}

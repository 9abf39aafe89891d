/** Health, inspection and telemetry routes: /healthz, /readyz, /metrics, /v1/events, workers, pools, tools. */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { SnakepitError } from "../errors.ts";
import { clusterView } from "../cluster/view.ts";
import { detectHardware } from "../hardware/detect.ts";
import { HardwareInfoSchema } from "../hardware/schema.ts";
import type { AnyEvent } from "../telemetry/bus.ts";
import type { ApiEnv } from "./errors.ts";
import { toHttpJson } from "./http-json.ts";
import type { RouteDeps } from "./routes-calls.ts";
import { COMMON_ERRORS, define, type RouteTable } from "./route.ts";
import { ErrorBody, PoolInfo, ToolInfo, WorkerInfo } from "./schemas.ts";
import { clientAddress } from "./stream-slots.ts";
import { pullStream } from "./streams.ts";
import { listPools, listTools, poolView } from "./views.ts";

const json = <S extends z.ZodType>(description: string, schema: S) => ({ description, content: { "application/json": { schema } } });
const GLOB = /^[A-Za-z0-9_.:/*-]{1,200}$/;
const MAX_GLOBS = 32;

/** Parse `?names=a.*,b` into globs; 400 on anything that is not a plain name glob. */
export function parseNameGlobs(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const names = raw.split(",").map((n) => n.trim()).filter(Boolean);
  if (names.length > MAX_GLOBS) throw new SnakepitError("invalid_argument", `Bad name glob: at most ${MAX_GLOBS} globs, got ${names.length}`, { details: { field: "names" } });
  for (const n of names) {
    if (!GLOB.test(n)) {
      throw new SnakepitError("invalid_argument", `Bad name glob ${JSON.stringify(n.slice(0, 80))}: use 1–200 letters, digits, . _ - : / and * as the wildcard`, { details: { field: "names" } });
    }
  }
  return names;
}

/** One encoded SSE frame per event, shared by every subscriber (the bus hands them all the same object). */
const frames = new WeakMap<AnyEvent, Uint8Array>();
const encoder = new TextEncoder();
function sseFrame(e: AnyEvent): Uint8Array {
  let frame = frames.get(e);
  if (!frame) {
    frame = encoder.encode(`event: ${e.name}\ndata: ${JSON.stringify({ time: e.time, ...toHttpJson(e.data) as object })}\n\n`);
    frames.set(e, frame);
  }
  return frame;
}

const Health = z.object({ ready: z.boolean(), pools: z.array(z.record(z.string(), z.unknown())) }).openapi("Health");

export function adminRoutes(app: OpenAPIHono<ApiEnv>, table: RouteTable, deps: RouteDeps & { version: string }): void {
  const { pit, limits, slots } = deps;
  const e401 = { 401: COMMON_ERRORS[401] };

  define(app, table, createRoute({
    method: "get", path: "/metrics", operationId: "metrics", tags: ["telemetry"], summary: "Prometheus metrics (text exposition format)",
    responses: {
      200: { description: "Metrics", content: { "text/plain": { schema: z.string() } } },
      ...e401,
      404: json("Metrics are off (telemetry.metrics: false)", ErrorBody),
    },
  }), async (c) => {
    const text = await pit.telemetry.metrics();
    if (text === undefined) throw new SnakepitError("not_found", "Metrics are off (telemetry.metrics: false)");
    return c.body(text, 200, { "content-type": pit.telemetry.metricsContentType });
  });

  define(app, table, createRoute({
    method: "get", path: "/v1/events", operationId: "events", tags: ["telemetry"],
    summary: "Live events as Server-Sent Events; a slow reader loses the oldest events and gets a telemetry.dropped event counting them",
    request: { query: z.object({ names: z.string().max(8_000).optional().openapi({ param: { name: "names", in: "query" }, description: "Comma-separated name globs (`*` wildcard), e.g. `call.*,python.call.stop`", example: "call.*" }) }) },
    responses: {
      200: { description: "SSE: `event: <name>`, `data: {time, ...payload}`", content: { "text/event-stream": { schema: z.string() } } },
      400: COMMON_ERRORS[400], ...e401, 429: COMMON_ERRORS[429],
    },
  }), (c) => {
    const names = parseNameGlobs(c.req.query("names"));
    const release = slots.acquire(clientAddress(c.req.raw, c.env), "events");
    const ac = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => ac.abort(), { once: true });
    const events = pit.telemetry.events({ ...(names?.length ? { names } : {}), signal: ac.signal, bufferSize: limits.eventBufferSize });
    const stream = pullStream(events, {
      item: sseFrame,
      end: () => new Uint8Array(0),
      error: (err) => encoder.encode(`event: error\ndata: ${JSON.stringify(SnakepitError.from(err).toJSON())}\n\n`),
      keepAlive: encoder.encode(": keep-alive\n\n"),
    }, {
      // Sent at once so the client gets the headers now, not with the first event.
      preamble: encoder.encode(": subscribed\n\n"),
      prime: true,
      onClose: () => {
        release();
        ac.abort();
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" } });
  });

  define(app, table, createRoute({
    method: "get", path: "/v1/workers", operationId: "listWorkers", tags: ["pools"], summary: "Workers of every pool",
    responses: { 200: json("Workers", z.object({ workers: z.array(WorkerInfo) })), ...e401 },
  }), (c) => c.json({ workers: pit.listWorkers() }));

  define(app, table, createRoute({
    method: "get", path: "/v1/hardware", operationId: "hardware", tags: ["pools"], summary: "CPU, memory and GPUs of the host (cached 30 s; ?refresh=1 detects again)",
    request: { query: z.object({ refresh: z.enum(["0", "1"]).optional().openapi({ param: { name: "refresh", in: "query" }, description: "1: detect again now" }) }) },
    responses: { 200: json("Hardware", HardwareInfoSchema), ...e401 },
  }), async (c) => c.json(await detectHardware({ refresh: c.req.query("refresh") === "1" })));

  define(app, table, createRoute({
    method: "post", path: "/v1/workers/{id}/recycle", operationId: "recycleWorker", tags: ["pools"], summary: "Replace a worker without failing a call",
    request: { params: z.object({ id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }) }) },
    responses: { 200: json("The new worker", z.object({ replacedBy: z.string() })), ...e401, 404: json("No such worker", ErrorBody), 503: COMMON_ERRORS[503] },
  }), async (c) => c.json({ replacedBy: await pit.recycleWorker(c.req.param("id")!) }));

  define(app, table, createRoute({
    method: "get", path: "/v1/pools", operationId: "listPools", tags: ["pools"], summary: "Pools with their figures",
    responses: { 200: json("Pools", z.object({ pools: z.array(PoolInfo) })), ...e401 },
  }), (c) => c.json({ pools: listPools(pit) }));

  for (const [action, summary] of [["drain", "Take no new calls (queued and running ones finish) until resumed"], ["resume", "Take calls again after a drain"]] as const) {
    define(app, table, createRoute({
      method: "post", path: `/v1/pools/{name}/${action}`, operationId: `${action}Pool`, tags: ["pools"], summary,
      request: { params: z.object({ name: z.string().min(1).openapi({ param: { name: "name", in: "path" } }) }) },
      responses: { 200: json("The pool now", PoolInfo), ...e401, 404: json("No such pool", ErrorBody) },
    }), (c) => {
      const name = c.req.param("name")!;
      const pool = pit.pools.get(name);
      if (!pool) throw new SnakepitError("not_found", `No pool "${name}" (pools: ${[...pit.pools.keys()].join(", ")})`, { details: { pool: name } });
      if (action === "drain") pool.drain();
      else pool.resume();
      return c.json(poolView(pool));
    });
  }

  define(app, table, createRoute({
    method: "get", path: "/v1/cluster", operationId: "cluster", tags: ["pools"], summary: "Cluster nodes with their pools and free capacity (404 when not clustered)",
    responses: {
      200: json("Nodes", z.object({ node: z.string(), prefix: z.string(), nodes: z.array(z.record(z.string(), z.unknown())) }).openapi("Cluster")),
      ...e401,
      404: json("This server is not in a cluster", ErrorBody),
    },
  }), (c) => c.json(clusterView(pit)));

  define(app, table, createRoute({
    method: "get", path: "/v1/tools", operationId: "listTools", tags: ["pools"], summary: "Tools of every pool (Python) and of the host",
    request: { query: z.object({ pool: z.string().optional().openapi({ param: { name: "pool", in: "query" }, description: "Only this pool's tools (and the host's)" }) }) },
    responses: { 200: json("Tools", z.object({ tools: z.array(ToolInfo) })), 400: COMMON_ERRORS[400], ...e401 },
  }), (c) => c.json({ tools: listTools(pit, c.req.query("pool")) }));
}

/** Routes anyone may call, token or not: liveness, readiness, the OpenAPI document. */
export function publicRoutes(app: OpenAPIHono<ApiEnv>, table: RouteTable, deps: { pit: RouteDeps["pit"]; version: string; document: () => unknown }): void {
  const e405 = { 405: json("Method not allowed (the Allow header lists the right one)", ErrorBody) };
  define(app, table, createRoute({
    method: "get", path: "/healthz", operationId: "healthz", tags: ["health"], summary: "Liveness", security: [],
    responses: { 200: json("Alive", z.object({ status: z.literal("ok"), version: z.string(), node: z.string().optional().openapi({ description: "This node's name, when it is in a cluster" }) })), ...e405 },
  }), (c) => c.json({ status: "ok" as const, version: deps.version, ...(deps.pit.cluster ? { node: deps.pit.cluster.name } : {}) }));
  define(app, table, createRoute({
    method: "get", path: "/readyz", operationId: "readyz", tags: ["health"], summary: "Every pool has a ready worker", security: [],
    responses: { 200: json("Ready", Health), ...e405, 503: json("Not ready", Health) },
  }), (c) => {
    const health = deps.pit.health();
    return c.json(health, health.ready ? 200 : 503);
  });
  define(app, table, createRoute({
    method: "get", path: "/openapi.json", operationId: "openapi", tags: ["health"], summary: "This document", security: [],
    responses: { 200: json("OpenAPI 3.1 document", z.record(z.string(), z.unknown())), ...e405 },
  }), (c) => c.json(deps.document() as Record<string, unknown>));
}

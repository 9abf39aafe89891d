/**
 * The HTTP control API (Hono): health, execute, stream (SSE or NDJSON), sessions, workers,
 * pools, tools, metrics, events, OpenAPI, and ControlService over Connect. `createApp(deps)`
 * returns the app; tests call `app.request()` with no port. Every route is declared with its
 * zod schemas (route.ts), so /openapi.json covers them all.
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { SnakepitError } from "../errors.ts";
import type { Snakepit } from "../snakepit.ts";
import { bodyLimit } from "./body-limit.ts";
import { dashboardRoutes } from "./dashboard/routes.ts";
import { type ApiEnv, errorResponse } from "./errors.ts";
import { checkBearer, checkLocalOnly, normalizeOrigin } from "./guard.ts";
import { type ApiLimitsInput, ApiLimitsSchema } from "./limits.ts";
import { openApiDocument } from "./openapi.ts";
import { RouteTable } from "./route.ts";
import { adminRoutes, publicRoutes } from "./routes-admin.ts";
import { callRoutes } from "./routes-calls.ts";
import { connectRoutes } from "./routes-connect.ts";
import { createStreamSlots, type StreamSlots } from "./stream-slots.ts";

/** What the API needs. */
export interface AppDeps {
  pit: Snakepit;
  /** Bearer token required on every route but /healthz, /readyz and /openapi.json. @default none */
  token?: string | undefined;
  /** Largest request body accepted. @default 16 MiB */
  maxBodyBytes?: number;
  /** Version shown in /openapi.json and /healthz. */
  version?: string;
  /** Browser origins allowed to call (CORS, and without a token). @default none */
  allowedOrigins?: readonly string[];
  /** Edge limits (depth, values, streams, event subscribers). @default ApiLimitsSchema defaults */
  limits?: ApiLimitsInput;
  /** Server URLs for /openapi.json. @default ["http://127.0.0.1:7117"] */
  servers?: string[];
  /** Shared with the gRPC server so both count the same streams. @default a new counter */
  slots?: StreamSlots;
}

const CORS_HEADERS = ["authorization", "content-type", "content-encoding", "connect-protocol-version", "connect-timeout-ms", "connect-content-encoding", "connect-accept-encoding", "x-grpc-web", "x-user-agent", "grpc-timeout"];

/** Build the API over a running Snakepit. */
export function createApp(deps: AppDeps): OpenAPIHono<ApiEnv> {
  const { pit, token } = deps;
  const maxBodyBytes = deps.maxBodyBytes ?? 16 * 1024 * 1024;
  const version = deps.version ?? "0.0.0";
  const limits = ApiLimitsSchema.parse(deps.limits ?? {});
  const slots = deps.slots ?? createStreamSlots(limits);
  const origins = new Set((deps.allowedOrigins ?? []).map(normalizeOrigin));
  const app = new OpenAPIHono<ApiEnv>();
  const table = new RouteTable();
  let doc: Record<string, unknown> | undefined;

  app.use(requestId());
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => {
    const allowed = table.allowed(c.req.path);
    if (allowed.length) {
      const err = new SnakepitError("not_found", `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(" or ")}`, { details: { path: c.req.path, allow: allowed } });
      return errorResponse(c, err, { status: 405, headers: { allow: allowed.join(", ") } });
    }
    return errorResponse(c, new SnakepitError("not_found", `No route ${c.req.method} ${c.req.path}; see /openapi.json`, { details: { path: c.req.path } }));
  });
  if (origins.size) {
    app.use("*", cors({ origin: (o) => (origins.has(normalizeOrigin(o)) ? o : null), allowHeaders: CORS_HEADERS, exposeHeaders: ["x-request-id", "grpc-status", "grpc-message", "x-snakepit-code"], maxAge: 600 }));
  }

  publicRoutes(app, table, { pit, version, document: () => (doc ??= openApiDocument(app, version, deps.servers)) });
  dashboardRoutes(app, table, { token, origins });

  app.use("*", async (c, next) => {
    if (token) checkBearer(c.req.header("authorization"), token);
    else checkLocalOnly(c.req.raw.headers, origins);
    await next();
  });
  app.use("*", bodyLimit(maxBodyBytes));

  const routeDeps = { pit, limits, maxBodyBytes, slots };
  callRoutes(app, table, routeDeps);
  adminRoutes(app, table, { ...routeDeps, version });
  connectRoutes(app, table, routeDeps);
  return app;
}

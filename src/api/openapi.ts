/** The OpenAPI 3.1 document, generated from the routes' declarations (see route.ts). */

import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ApiEnv } from "./errors.ts";

/** Build the document for a server at `version`; `servers` default to the usual local address. */
export function openApiDocument(app: OpenAPIHono<ApiEnv>, version: string, servers: string[] = ["http://127.0.0.1:7117"]): Record<string, unknown> {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "`Authorization: Bearer <token>` (server.token); without a token only loopback clients are served" });
  const doc = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "snakepit",
      version,
      description: "Pools of supervised Python workers, callable over HTTP (JSON, SSE, NDJSON), Connect, gRPC-web and gRPC.",
      license: { name: "MIT", url: "https://opensource.org/license/mit" },
    },
    servers: servers.map((url) => ({ url, description: "snakepit serve" })),
    security: [{ bearer: [] }],
    tags: [
      { name: "calls", description: "Run tools" },
      { name: "sessions", description: "Sessions: worker affinity and per-session state" },
      { name: "pools", description: "Pools, workers and tools" },
      { name: "telemetry", description: "Metrics and live events" },
      { name: "health", description: "Liveness, readiness, this document" },
      { name: "connect", description: "ControlService (proto/snakepit/api/v1/control.proto) in Connect's JSON form" },
    ],
  });
  return doc as unknown as Record<string, unknown>;
}

/**
 * Routes are declared once, with their zod schemas (`createRoute` of @hono/zod-openapi): the
 * declaration registers the handler and its OpenAPI operation together, so /openapi.json covers
 * every route. Bodies are read by `readBody` (edge limits first, then zod), not by the
 * zod-openapi validator, so every bad input gets the API's own typed error.
 */

import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import type { Handler } from "hono";
import type { ApiEnv } from "./errors.ts";
import { ErrorBody } from "./schemas.ts";

/** One declared route: its method and the path as a matcher (for 405 answers). */
export interface RouteEntry {
  method: string;
  path: string;
  pattern: RegExp;
}

const err = (description: string) => ({ description, content: { "application/json": { schema: ErrorBody } } });

/** The error responses every protected operation can give. */
export const COMMON_ERRORS = {
  400: err("Bad request: malformed or invalid body, a limit broken (depth, size, values), a bad argument"),
  401: err("Missing or wrong bearer token, or a refused origin"),
  413: err("Body larger than server.maxBodyBytes"),
  429: err("Saturated: queue full, or too many open streams/subscribers (Retry-After)"),
  500: err("Python raised, or an internal error"),
  503: err("No worker can take the call (pool closed, circuit open, queue timeout)"),
  504: err("The call's deadline passed"),
} as const;

/** Routes register here so the app can answer 405 with the Allow header. */
export class RouteTable {
  readonly entries: RouteEntry[] = [];

  /** Methods declared for `path` (empty when the path is unknown). */
  allowed(path: string): string[] {
    return [...new Set(this.entries.filter((e) => e.pattern.test(path)).map((e) => e.method))];
  }
}

function toPattern(path: string): RegExp {
  const escaped = path.replace(/[.+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
  return new RegExp(`^${escaped}$`);
}

/** Declare `route` on `app`: OpenAPI operation + handler + 405 table entry. */
export function define<R extends RouteConfig>(app: OpenAPIHono<ApiEnv>, table: RouteTable, route: R, handler: Handler<ApiEnv>): void {
  app.openAPIRegistry.registerPath(route);
  const honoPath = route.path.replace(/\{([^}]+)\}/g, ":$1");
  app.on(route.method.toUpperCase(), honoPath, handler);
  table.entries.push({ method: route.method.toUpperCase(), path: route.path, pattern: toPattern(route.path) });
}

/**
 * The dashboard's page and assets, embedded (see scripts/dashboard.ts). The page holds no data:
 * it is served without the token (but with the loopback rules when there is none) and asks for
 * the token when the JSON routes answer 401.
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiEnv } from "../errors.ts";
import { checkLocalOnly } from "../guard.ts";
import { define, type RouteTable } from "../route.ts";
import { ErrorBody } from "../schemas.ts";
import { DASHBOARD_ASSETS } from "./gen/assets.ts";

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const OPERATIONS: Record<string, [operationId: string, summary: string]> = {
  "/": ["dashboard", "The live dashboard (HTML; its data comes from the JSON routes)"],
  "/dashboard/app.js": ["dashboardScript", "The dashboard's script"],
  "/dashboard/style.css": ["dashboardStyle", "The dashboard's style sheet"],
  "/dashboard/uplot.js": ["dashboardChartScript", "uPlot, the chart library (MIT)"],
  "/dashboard/uplot.css": ["dashboardChartStyle", "uPlot's style sheet"],
};

/** The response for a dashboard path, or undefined when the path is not one of its files. */
export function dashboardAsset(path: string, ifNoneMatch: string | undefined): Response | undefined {
  const asset = DASHBOARD_ASSETS[path];
  if (!asset) return undefined;
  const headers = { ...SECURITY_HEADERS, etag: asset.etag, "cache-control": "no-cache" };
  if (ifNoneMatch === asset.etag) return new Response(null, { status: 304, headers });
  return new Response(asset.body, { headers: { ...headers, "content-type": asset.type } });
}

/** Declare the dashboard's routes (before the token check: the files hold no data). */
export function dashboardRoutes(app: OpenAPIHono<ApiEnv>, table: RouteTable, deps: { token: string | undefined; origins: ReadonlySet<string> }): void {
  for (const [path, asset] of Object.entries(DASHBOARD_ASSETS)) {
    const [operationId, summary] = OPERATIONS[path] ?? [path, path];
    define(app, table, createRoute({
      method: "get", path, operationId, summary, tags: ["dashboard"], security: [],
      responses: {
        200: { description: summary, content: { [asset.type.split(";")[0]!]: { schema: z.string() } } },
        304: { description: "Not modified (If-None-Match)" },
        401: { description: "Without a token: not a loopback Host, or a cross-site request", content: { "application/json": { schema: ErrorBody } } },
      },
    }), (c) => {
      if (!deps.token) checkLocalOnly(c.req.raw.headers, deps.origins);
      return dashboardAsset(path, c.req.header("if-none-match"))!;
    });
  }
}

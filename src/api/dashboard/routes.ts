/**
 * The dashboard's page and assets, embedded (see scripts/dashboard.ts). The page holds no data:
 * it is served without the token and asks for one when the JSON routes answer 401.
 */

import { DASHBOARD_ASSETS } from "./gen/assets.ts";

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** Paths the dashboard serves. */
export const DASHBOARD_PATHS: readonly string[] = Object.keys(DASHBOARD_ASSETS);

/** The response for a dashboard path, or undefined when the path is not one of its files. */
export function dashboardAsset(path: string, ifNoneMatch: string | undefined): Response | undefined {
  const asset = DASHBOARD_ASSETS[path];
  if (!asset) return undefined;
  const headers = { ...SECURITY_HEADERS, etag: asset.etag, "cache-control": "no-cache" };
  if (ifNoneMatch === asset.etag) return new Response(null, { status: 304, headers });
  return new Response(asset.body, { headers: { ...headers, "content-type": asset.type } });
}

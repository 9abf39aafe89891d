/**
 * Who may call: with a token, every route but the health checks and the OpenAPI document needs
 * `Authorization: Bearer <token>`. Without one, only this machine's programs: the Host header must
 * name a loopback address (DNS rebinding), and browser pages are refused unless their origin is
 * listed in `allowedOrigins` (default none; a page on localhost:3000 is as foreign as any other).
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { isLoopback } from "../config/loopback.ts";
import { SnakepitError } from "../errors.ts";

/** Compare digests: equal lengths, so neither the token nor its length leaks through timing. */
export function sameToken(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Throw unauthenticated unless `header` (an Authorization value) carries `token`. */
export function checkBearer(header: string | undefined | null, token: string): void {
  if (!header) throw new SnakepitError("unauthenticated", "Missing bearer token: send Authorization: Bearer <token>");
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match || !sameToken(match[1]!.trim(), token)) throw new SnakepitError("unauthenticated", "Wrong bearer token");
}

/** Normalise an origin ("HTTP://LocalHost:3000/" -> "http://localhost:3000"). */
export function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin.trim().toLowerCase();
  }
}

/** Without a token: refuse rebinding and browser pages not in `allowedOrigins`. */
export function checkLocalOnly(headers: { get(name: string): string | null | undefined }, allowedOrigins: ReadonlySet<string>): void {
  const host = headers.get("host") ?? "";
  if (host && !isLoopback(host)) {
    throw new SnakepitError("unauthenticated", `Host "${host}" is not a loopback address; set a token to serve other names`);
  }
  const origin = headers.get("origin");
  if (origin !== undefined && origin !== null) {
    if (allowedOrigins.has(normalizeOrigin(origin))) return;
    throw new SnakepitError("unauthenticated", `Requests from the page ${origin} are refused: list it in server.allowedOrigins, or set a token`, {
      details: { origin },
    });
  }
  if (headers.get("sec-fetch-site") === "cross-site") {
    throw new SnakepitError("unauthenticated", "Cross-site requests are refused; set a token or server.allowedOrigins to allow them");
  }
}

/**
 * Request bodies of the JSON routes: the media type must be JSON, gzip is accepted
 * (`Content-Encoding: gzip`, bounded after decompression), and the JSON is checked against the
 * edge limits (depth on the raw text, then values, keys and Unicode) before the zod schema.
 */

import { gunzipSync } from "node:zlib";
import type { Context } from "hono";
import type { z } from "zod";
import { SnakepitError } from "../errors.ts";
import { checkJsonDepth, checkJsonShape } from "./json-guard.ts";
import type { ApiLimits } from "./limits.ts";

/** Decompress a gzip body, refusing output above `maxBytes`. */
export function gunzipBounded(bytes: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
      throw new SnakepitError("payload_too_large", `Request body is larger than ${maxBytes} bytes once decompressed`, { details: { maxBodyBytes: maxBytes } });
    }
    throw new SnakepitError("invalid_argument", `Request body is not valid gzip: ${(err as Error).message}`, { details: { field: "content-encoding" } });
  }
}

/** The body as text, gunzipped when the client says so. */
async function bodyText(c: Context, maxBytes: number): Promise<string> {
  const encoding = (c.req.header("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding === "identity") return await c.req.text();
  if (encoding !== "gzip") {
    throw new SnakepitError("invalid_argument", `Content-Encoding "${encoding}" is not supported; use gzip or none`, { details: { field: "content-encoding" } });
  }
  const raw = new Uint8Array(await c.req.arrayBuffer());
  return new TextDecoder().decode(gunzipBounded(raw, maxBytes));
}

/** Read, limit-check and validate a JSON body against `schema`. */
export async function readBody<S extends z.ZodType>(c: Context, schema: S, limits: ApiLimits, maxBytes: number): Promise<z.output<S>> {
  const type = c.req.header("content-type") ?? "";
  const text = await bodyText(c, maxBytes);
  // The media type itself must be JSON: "text/plain; application/json" is a browser's CORS-free
  // "simple" request and must not pass.
  if (text.length > 0 && type.split(";")[0]!.trim().toLowerCase() !== "application/json") {
    throw new SnakepitError("invalid_argument", `Content-Type must be application/json, got ${type ? `"${type}"` : "none"}`, { details: { field: "content-type" } });
  }
  checkJsonDepth(text, limits.maxDepth);
  let raw: unknown;
  try {
    raw = text.length === 0 ? {} : JSON.parse(text);
  } catch (err) {
    throw new SnakepitError("invalid_argument", `Malformed JSON body: ${(err as Error).message}`, { details: { field: "body" } });
  }
  checkJsonShape(raw, limits);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".") || (issue.code === "unrecognized_keys" ? issue.keys.join(", ") : "body");
    throw new SnakepitError("invalid_argument", `Invalid request body: ${field}: ${issue.message}`, {
      details: { field, issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    });
  }
  return keepFreeForm(raw, parsed.data);
}

/** Free-form JSON fields: zod checked them, but rebuilt objects drop a "__proto__" key; keep the parsed JSON's own. */
const FREE_FORM = ["args", "metadata"] as const;

function keepFreeForm<T>(raw: unknown, data: T): T {
  if (typeof raw !== "object" || raw === null || typeof data !== "object" || data === null) return data;
  const out = data as Record<string, unknown>;
  for (const key of FREE_FORM) {
    if (Object.hasOwn(raw, key) && out[key] !== undefined) out[key] = (raw as Record<string, unknown>)[key];
  }
  return data;
}

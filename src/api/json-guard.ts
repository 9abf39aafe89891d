/**
 * Shape limits for request JSON, checked before anything reaches a pool or Python: nesting depth
 * (scanned on the raw text, so a 100 000-deep body costs one linear pass and no recursion),
 * number of values, keys per object, and well-formed strings (no lone UTF-16 surrogates, which
 * Python cannot encode).
 */

import { SnakepitError } from "../errors.ts";
import type { ApiLimits } from "./limits.ts";

type ShapeLimits = Pick<ApiLimits, "maxDepth" | "maxValues" | "maxKeys">;

const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function tooDeep(limit: number, where: string): SnakepitError {
  return new SnakepitError("invalid_argument", `${where} nests deeper than the limit of ${limit} levels (server.limits.maxDepth)`, {
    details: { field: "body", limit: "maxDepth", maxDepth: limit },
  });
}

/** Throw invalid_argument when the JSON text nests deeper than `maxDepth`; one pass, no recursion. */
export function checkJsonDepth(text: string, maxDepth: number, where = "Request body"): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === BACKSLASH) i++;
      else if (ch === QUOTE) inString = false;
    } else if (ch === QUOTE) {
      inString = true;
    } else if (ch === OPEN_ARRAY || ch === OPEN_OBJECT) {
      if (++depth > maxDepth) throw tooDeep(maxDepth, where);
    } else if (ch === CLOSE_ARRAY || ch === CLOSE_OBJECT) {
      depth--;
    }
  }
}

function badString(path: string): SnakepitError {
  return new SnakepitError("invalid_argument", `${path} holds a lone UTF-16 surrogate (not valid Unicode text)`, { details: { field: path } });
}

/**
 * Walk a parsed value (iteratively) and throw invalid_argument on the first limit it breaks:
 * depth, value count, keys per object, or a string that is not well-formed Unicode.
 */
export function checkJsonShape(value: unknown, limits: ShapeLimits, root = "body"): void {
  const stack: Array<[unknown, string, number]> = [[value, root, 0]];
  let values = 0;
  while (stack.length) {
    const [v, path, depth] = stack.pop()!;
    if (++values > limits.maxValues) {
      throw new SnakepitError("invalid_argument", `${root} holds more than ${limits.maxValues} values (server.limits.maxValues)`, { details: { field: root, limit: "maxValues", maxValues: limits.maxValues } });
    }
    if (typeof v === "string") {
      if (!v.isWellFormed()) throw badString(path);
      continue;
    }
    if (typeof v !== "object" || v === null) continue;
    if (depth >= limits.maxDepth) throw tooDeep(limits.maxDepth, root);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`, depth + 1]);
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > limits.maxKeys) {
      throw new SnakepitError("invalid_argument", `${path} has ${keys.length} keys, more than the limit of ${limits.maxKeys} (server.limits.maxKeys)`, { details: { field: path, limit: "maxKeys", maxKeys: limits.maxKeys } });
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      if (!k.isWellFormed()) throw badString(`${path} (a key)`);
      stack.push([(v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1]);
    }
  }
}

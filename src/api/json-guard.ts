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

const COLON = 0x3a;
const MINUS = 0x2d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** Digits of 2^53 - 1: a longer integer literal (JSON allows no leading zeros) cannot be exact. */
const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER);

function unsafeInteger(literal: string, where: string): SnakepitError {
  const shown = literal.length > 40 ? `${literal.slice(0, 40)}...` : literal;
  return new SnakepitError("invalid_argument", `${where} holds the integer ${shown}, beyond ±(2^53-1): a JSON number cannot carry it exactly; send it as {"__snakepit__":"int","value":"${shown}"}`, {
    details: { field: "body", limit: "maxSafeInteger", value: shown },
  });
}

/** Check one number literal starting at `start`; returns the index after it. */
function scanNumber(text: string, start: number, where: string): number {
  let i = start;
  let digits = 0;
  let plain = true; // no fraction, no exponent: an integer
  for (; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= DIGIT_0 && ch <= DIGIT_9) {
      if (plain) digits++;
    } else if (ch === 0x2e || ch === 0x65 || ch === 0x45 || ch === 0x2b || ch === MINUS) {
      if (ch !== MINUS || i !== start) plain = false;
    } else break;
  }
  if (plain && digits >= MAX_SAFE_DIGITS.length) {
    const abs = text.slice(text.charCodeAt(start) === MINUS ? start + 1 : start, i);
    if (abs.length > MAX_SAFE_DIGITS.length || abs > MAX_SAFE_DIGITS) throw unsafeInteger(text.slice(start, i), where);
  }
  return i;
}

/**
 * Throw invalid_argument when the JSON text nests deeper than `maxDepth` or holds an integer a
 * double cannot carry exactly (JSON.parse would round it silently); one pass, no recursion.
 * Returns the number of key/value separators (colons outside strings): one per key in the text,
 * so a parsed value with fewer keys had duplicates (see `checkJsonShape`).
 */
export function checkJsonDepth(text: string, maxDepth: number, where = "Request body"): number {
  let depth = 0;
  let colons = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === BACKSLASH) i++;
      else if (ch === QUOTE) inString = false;
    } else if (ch === QUOTE) {
      inString = true;
    } else if (ch === COLON) {
      colons++;
    } else if (ch === OPEN_ARRAY || ch === OPEN_OBJECT) {
      if (++depth > maxDepth) throw tooDeep(maxDepth, where);
    } else if (ch === CLOSE_ARRAY || ch === CLOSE_OBJECT) {
      depth--;
    } else if ((ch >= DIGIT_0 && ch <= DIGIT_9) || ch === MINUS) {
      i = scanNumber(text, i, where) - 1;
    }
  }
  return colons;
}

function badString(path: string): SnakepitError {
  return new SnakepitError("invalid_argument", `${path} holds a lone UTF-16 surrogate (not valid Unicode text)`, { details: { field: path } });
}

/**
 * Walk a parsed value (iteratively) and throw invalid_argument on the first limit it breaks:
 * depth, value count, keys per object, a string that is not well-formed Unicode, or a number
 * beyond a double's range (JSON.parse reads 1e400 as Infinity). Returns the number of keys seen.
 */
export function checkJsonShape(value: unknown, limits: ShapeLimits, root = "body"): number {
  const stack: Array<[unknown, string, number]> = [[value, root, 0]];
  let values = 0;
  let allKeys = 0;
  while (stack.length) {
    const [v, path, depth] = stack.pop()!;
    if (++values > limits.maxValues) {
      throw new SnakepitError("invalid_argument", `${root} holds more than ${limits.maxValues} values (server.limits.maxValues)`, { details: { field: root, limit: "maxValues", maxValues: limits.maxValues } });
    }
    if (typeof v === "string") {
      if (!v.isWellFormed()) throw badString(path);
      continue;
    }
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new SnakepitError("invalid_argument", `${path} is a number beyond the range of a double (it reads as ${v}); send {"__snakepit__":"float","value":"inf"} for an infinity`, { details: { field: path } });
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
    allKeys += keys.length;
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      if (!k.isWellFormed()) throw badString(`${path} (a key)`);
      stack.push([(v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1]);
    }
  }
  return allKeys;
}

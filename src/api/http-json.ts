/**
 * Values in the HTTP JSON API. JSON cannot hold bytes, big ints or NaN, so they travel as the
 * same typed objects the wire uses, with base64 payloads: `{"__snakepit__":"bytes","base64":"..."}`,
 * `{"__snakepit__":"int","value":"..."}`, `{"__snakepit__":"float","value":"nan"}`,
 * `{"__snakepit__":"ndarray","dtype":"float32","shape":[2],"base64":"..."}`,
 * `{"__snakepit__":"arrow","schema":{...},"base64":"..."}` (Arrow IPC). Requests may use them too.
 */

import { type DType, isNDArray, type NDArray } from "../bridge/codec.ts";
import { reviveValue } from "../bridge/codec.ts";
import { ArrowIPC } from "../bridge/arrow.ts";
import { SnakepitError } from "../errors.ts";

const TAG = "__snakepit__";

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** A host value -> plain JSON for HTTP responses. */
export function toHttpJson(value: unknown): unknown {
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? value : { [TAG]: "float", value: Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf" };
    case "bigint":
      return { [TAG]: "int", value: value.toString() };
    case "object": {
      if (value === null) return null;
      if (value instanceof Uint8Array) return { [TAG]: "bytes", base64: toBase64(value) };
      if (value instanceof ArrowIPC) return { [TAG]: "arrow", schema: value.schema, base64: toBase64(value.bytes) };
      if (isNDArray(value)) {
        const d = value.data;
        return { [TAG]: "ndarray", dtype: value.dtype, shape: value.shape, base64: toBase64(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)) };
      }
      if (Array.isArray(value)) return value.map(toHttpJson);
      // fromEntries defines own properties: a "__proto__" key stays a key, never the prototype.
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toHttpJson(v)]));
    }
    default:
      return value;
  }
}

function hasBase64Tags(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return value.some(hasBase64Tags);
  if (TAG in value) return true;
  return Object.values(value).some(hasBase64Tags);
}

/** Request JSON -> host values (typed objects with base64 become bytes/arrays). */
export function fromHttpJson(value: unknown): unknown {
  try {
    return revive(value);
  } catch (err) {
    // JSON.parse takes any depth; walking it can overflow the stack (~50 000 levels): that is the
    // client's bad argument (the workers' limit is far lower), not a server error.
    if (err instanceof RangeError) throw new SnakepitError("invalid_argument", `Arguments nest too deep to decode: ${err.message}`, { details: { field: "args" } });
    throw err;
  }
}

const DTYPES = new Set(["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]);

function badTyped(path: string, message: string): SnakepitError {
  return new SnakepitError("invalid_argument", `${path}: ${message}`, { details: { field: path } });
}

/**
 * A client's typed value, checked before it is revived: a known kind, a payload in base64 for the
 * kinds that carry bytes, a decimal string for ints. Without this, a typo'd kind or bad base64
 * reached Python as a plain dict or as empty bytes, and "ref"/"shm" (wire internals) could be forged.
 */
function checkTyped(rec: Record<string, unknown>, path: string): void {
  const kind = rec[TAG];
  if ("ref" in rec || "shm" in rec) throw badTyped(path, `a typed value from a client carries its payload in "base64", not "ref" or "shm"`);
  switch (kind) {
    case "bytes":
    case "arrow":
    case "ndarray":
      if (typeof rec.base64 !== "string") throw badTyped(path, `a typed ${kind} value needs "base64": its bytes as base64 text`);
      if (kind === "ndarray" && !DTYPES.has(rec.dtype as string)) throw badTyped(path, `ndarray dtype ${JSON.stringify(rec.dtype)} is not one of ${[...DTYPES].join(", ")}`);
      return;
    case "int":
      if (typeof rec.value !== "string" || !/^-?\d+$/.test(rec.value)) throw badTyped(path, `a typed int needs "value": a string of decimal digits, got ${JSON.stringify(rec.value)?.slice(0, 40)}`);
      return;
    case "float":
      if (typeof rec.value !== "string" || !/^(nan|-?inf|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(rec.value)) throw badTyped(path, `a typed float needs "value": "nan", "inf", "-inf" or a decimal number, got ${JSON.stringify(rec.value)?.slice(0, 40)}`);
      return;
    default:
      throw badTyped(path, `unknown typed value ${JSON.stringify(kind)?.slice(0, 40)} ("${TAG}" must be one of bytes, int, float, ndarray, arrow)`);
  }
}

/** Base64 text as bytes; Buffer.from skips characters it cannot read, so a short result names them. */
function decodeBase64(text: string, path: string): Uint8Array {
  const bytes = new Uint8Array(Buffer.from(text, "base64"));
  const body = text.replace(/=+$/, "");
  if (text.length - body.length > 2 || bytes.byteLength !== Math.floor((body.length * 3) / 4) || body.length % 4 === 1) {
    throw badTyped(path, `"base64" is not valid base64 text (A-Z a-z 0-9 + / or - _, padded with at most two =)`);
  }
  return bytes;
}

function revive(value: unknown): unknown {
  if (!hasBase64Tags(value)) return value;
  const attachments: Uint8Array[] = [];
  const swap = (v: unknown, path: string): unknown => {
    if (typeof v !== "object" || v === null) return v;
    if (Array.isArray(v)) return v.map((x, i) => swap(x, `${path}[${i}]`));
    const rec = v as Record<string, unknown>;
    if (TAG in rec) {
      checkTyped(rec, path);
      if (typeof rec.base64 !== "string") return { ...rec };
      attachments.push(decodeBase64(rec.base64, path));
      const { base64: _, ...rest } = rec;
      return { ...rest, ref: attachments.length - 1 };
    }
    return Object.fromEntries(Object.entries(rec).map(([k, x]) => [k, swap(x, `${path}.${k}`)]));
  };
  return reviveValue(swap(value, "args"), attachments, { shared: false });
}

export type { DType, NDArray };

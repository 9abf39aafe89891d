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

function revive(value: unknown): unknown {
  if (!hasBase64Tags(value)) return value;
  const attachments: Uint8Array[] = [];
  const swap = (v: unknown): unknown => {
    if (typeof v !== "object" || v === null) return v;
    if (Array.isArray(v)) return v.map(swap);
    const rec = v as Record<string, unknown>;
    if (TAG in rec && typeof rec.base64 === "string") {
      attachments.push(new Uint8Array(Buffer.from(rec.base64, "base64")));
      const { base64: _, ...rest } = rec;
      return { ...rest, ref: attachments.length - 1 };
    }
    return Object.fromEntries(Object.entries(rec).map(([k, x]) => [k, swap(x)]));
  };
  return reviveValue(swap(value), attachments, { shared: false });
}

export type { DType, NDArray };

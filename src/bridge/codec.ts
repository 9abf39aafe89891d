/**
 * Values across the wire: plain JSON, plus typed values for what JSON cannot hold.
 *
 * Host -> Python: `Uint8Array` (and ArrayBuffer, DataView) become bytes; typed arrays and
 * `NDArray` become numpy arrays (or `array.array` without numpy); bigint, NaN and ±Infinity are
 * spelled out. The same tags come back from Python, so types survive the round trip. Raw bytes
 * travel as attachments after the packet, never as base64 JSON.
 */

import { SnakepitError } from "../errors.ts";
import { ArrowIPC, isArrowTable, tableIPC } from "./arrow.ts";
import { fromShared, toShared } from "./shm.ts";
import { dropInTransit, type SentRef, wasReleased } from "./shm-lifecycle.ts";

const TAG = "__snakepit__";

/** Numeric element types an NDArray can have. */
export type DType =
  | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32"
  | "int64" | "uint64" | "float32" | "float64";

/** An n-dimensional array: numpy's `ndarray` on the host, data in row-major order. */
export interface NDArray {
  dtype: DType;
  shape: number[];
  data:
    | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
    | BigInt64Array | BigUint64Array | Float32Array | Float64Array;
}

const CTORS = {
  int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
  int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  float32: Float32Array, float64: Float64Array,
} as const;

function dtypeOf(view: ArrayBufferView): DType | undefined {
  for (const [name, ctor] of Object.entries(CTORS)) {
    if (view.constructor === ctor) return name as DType;
  }
  return undefined;
}

/** True for the `{ dtype, shape, data }` envelope. */
export function isNDArray(value: unknown): value is NDArray {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<NDArray>;
  return typeof v.dtype === "string" && Array.isArray(v.shape) && ArrayBuffer.isView(v.data);
}

/** An NDArray whose dtype, shape and data disagree cannot be sent: say which part is wrong. */
function checkNDArray(v: NDArray): void {
  const ctor = CTORS[v.dtype];
  if (!ctor) {
    throw new SnakepitError("invalid_argument", `NDArray dtype "${v.dtype}" is not one of ${Object.keys(CTORS).join(", ")}`, { details: { field: "dtype" } });
  }
  if (!v.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new SnakepitError("invalid_argument", `NDArray shape [${v.shape.join(", ")}] must be whole numbers ≥ 0`, { details: { field: "shape" } });
  }
  const elements = v.shape.reduce((n, d) => n * d, 1);
  if (elements * ctor.BYTES_PER_ELEMENT !== v.data.byteLength) {
    throw new SnakepitError("invalid_argument", `NDArray of shape [${v.shape.join(", ")}] and dtype ${v.dtype} needs ${elements * ctor.BYTES_PER_ELEMENT} bytes of data, got ${v.data.byteLength}`, {
      details: { field: "shape" },
    });
  }
}

/** Result of encoding: the JSON-safe value, its attachments, and whether any tag was used. */
export interface Encoded {
  value: unknown;
  attachments: Uint8Array[];
  typed: boolean;
  /** Shared-memory segments created for this value (in transit until the peer maps them). */
  shm?: SentRef[];
}

class EncodeState {
  attachments: Uint8Array[] = [];
  typed = false;
  shm: SentRef[] | undefined;

  /** `shared`: big payloads may go through this machine's shared memory (only to our own workers). */
  readonly shared: boolean;

  constructor(shared: boolean) {
    this.shared = shared;
  }

  attach(bytes: Uint8Array): number {
    this.typed = true;
    this.attachments.push(bytes);
    return this.attachments.length - 1;
  }

  /** Where a payload goes: shared memory when big enough (see shm.ts), else an attachment. */
  place(bytes: Uint8Array): { ref: number } | { shm: object } {
    const shm = this.shared ? toShared(bytes) : undefined;
    if (shm) {
      this.typed = true;
      (this.shm ??= []).push(shm.token);
      return { shm: shm.handle };
    }
    return { ref: this.attach(bytes) };
  }
}

/** Refuse a view of a released shared-memory result (it reads as empty: sending it would lose the data). */
function live<V extends ArrayBufferView>(view: V): V {
  if (view.byteLength === 0 && wasReleased(view.buffer)) {
    throw new SnakepitError("invalid_argument", "A shared-memory result was released (releaseShared or `using`) before this call sent it: keep it until the call has started, or copy it first", { details: { field: "args" } });
  }
  return view;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  live(view);
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function encodeObject(v: object, st: EncodeState): unknown {
  if (v instanceof Uint8Array && v.constructor === Uint8Array) {
    return { [TAG]: "bytes", ...st.place(live(v)) };
  }
  if (ArrayBuffer.isView(v)) {
    const dtype = dtypeOf(v);
    if (!dtype) return { [TAG]: "bytes", ...st.place(bytesOf(v)) };
    const length = (v as unknown as { length: number }).length;
    return { [TAG]: "ndarray", dtype, shape: [length], ...st.place(bytesOf(v)) };
  }
  if (v instanceof ArrayBuffer) return { [TAG]: "bytes", ...st.place(new Uint8Array(v)) };
  if (isNDArray(v)) {
    checkNDArray(v);
    return { [TAG]: "ndarray", dtype: v.dtype, shape: v.shape, ...st.place(bytesOf(v.data)) };
  }
  if (v instanceof ArrowIPC || isArrowTable(v)) {
    const ipc = v instanceof ArrowIPC ? v : tableIPC(v);
    return { [TAG]: "arrow", schema: ipc.schema, ...st.place(ipc.bytes) };
  }
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Map) return encodeValueInto(Object.fromEntries(v), st);
  if (v instanceof Set) return encodeValueInto([...v], st);
  if (Array.isArray(v)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      const out = encodeValueInto(item, st);
      if (out !== item) (copy ??= v.slice())[i] = out;
    }
    return copy ?? v;
  }
  let copy: Record<string, unknown> | undefined;
  const rec = v as Record<string, unknown>;
  for (const key in rec) {
    const item = rec[key];
    const out = encodeValueInto(item, st);
    if (out !== item) (copy ??= { ...rec })[key] = out;
  }
  return copy ?? v;
}

function encodeValueInto(v: unknown, st: EncodeState): unknown {
  switch (typeof v) {
    case "number":
      if (Number.isFinite(v)) return v;
      st.typed = true;
      return { [TAG]: "float", value: Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf" };
    case "bigint":
      st.typed = true;
      return { [TAG]: "int", value: v.toString() };
    case "object":
      return v === null ? v : encodeObject(v, st);
    default:
      return v;
  }
}

/** Options of `encodeValue` and `reviveValue`. */
export interface CodecOptions {
  /**
   * Shared-memory handles (default true): only between this host and its own workers. Values that
   * leave the machine or come from clients (HTTP, cluster peers) set false: big payloads stay
   * inline, and a `shm` handle is refused rather than mapped (it could name any segment here).
   */
  shared?: boolean;
  /** The worker whose pooled segments `reviveValue` accepts (its channel's): others are refused. */
  peerPid?: number | undefined;
}

/** Make a value wire-safe; copies only the parts that change. */
export function encodeValue(value: unknown, options: CodecOptions = {}): Encoded {
  const st = new EncodeState(options.shared ?? true);
  let out: unknown;
  try {
    out = encodeValueInto(value, st);
  } catch (err) {
    if (st.shm) dropInTransit(st.shm); // written for a packet that will never be sent
    throw err;
  }
  return st.shm ? { value: out, attachments: st.attachments, typed: st.typed, shm: st.shm } : { value: out, attachments: st.attachments, typed: st.typed };
}

function shared(v: Record<string, unknown>, opts: CodecOptions): Uint8Array {
  if (opts.shared === false) throw new SnakepitError("invalid_argument", `A shared-memory handle is not accepted here: send the payload inline (base64 over HTTP)`, { details: { field: TAG } });
  return fromShared(v.shm, opts.peerPid);
}

/** The attachment a typed value points at: only a whole index counts ("__proto__" is not one). */
function attachment(v: Record<string, unknown>, attachments: readonly Uint8Array[]): Uint8Array {
  return (Number.isInteger(v.ref) ? attachments[v.ref as number] : undefined) ?? new Uint8Array(0);
}

function reviveTag(v: Record<string, unknown>, attachments: readonly Uint8Array[], allowShm: CodecOptions): unknown {
  switch (v[TAG]) {
    case "bytes":
      return v.shm ? shared(v, allowShm) : attachment(v, attachments);
    case "arrow":
      return new ArrowIPC(v.shm ? shared(v, allowShm) : attachment(v, attachments));
    case "float": {
      const s = v.value as string;
      return s === "nan" ? Number.NaN : s === "-inf" ? -Infinity : s === "inf" ? Infinity : Number(s);
    }
    case "int": {
      if (typeof v.value !== "string" || !/^-?\d+$/.test(v.value)) return v;
      const big = BigInt(v.value);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
    case "ndarray": {
      const dtype = v.dtype as DType;
      const ctor = CTORS[dtype];
      if (!ctor) return v;
      let raw = v.shm ? shared(v, allowShm) : attachment(v, attachments);
      const shape = v.shape as number[];
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) || shape.reduce((n, d) => n * d, 1) * ctor.BYTES_PER_ELEMENT !== raw.byteLength) {
        throw new SnakepitError("invalid_argument", `An ndarray of shape ${JSON.stringify(shape)} and dtype ${dtype} cannot hold ${raw.byteLength} bytes`, { details: { field: "shape" } });
      }
      if (raw.byteOffset % ctor.BYTES_PER_ELEMENT !== 0) raw = raw.slice();
      const data = new ctor(raw.buffer as ArrayBuffer, raw.byteOffset, raw.byteLength / ctor.BYTES_PER_ELEMENT);
      return { dtype, shape, data } satisfies NDArray;
    }
    default:
      return v;
  }
}

/** Turn typed values from the wire back into host values. */
export function reviveValue(value: unknown, attachments: readonly Uint8Array[], options: CodecOptions = {}): unknown {
  return reviveInto(value, attachments, options);
}

function reviveInto(value: unknown, attachments: readonly Uint8Array[], allowShm: CodecOptions): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = reviveInto(value[i], attachments, allowShm);
    return value;
  }
  const rec = value as Record<string, unknown>;
  if (TAG in rec) return reviveTag(rec, attachments, allowShm);
  for (const key in rec) rec[key] = reviveInto(rec[key], attachments, allowShm);
  return rec;
}

/**
 * The schema of an Arrow IPC buffer (stream or file format), read from its first message
 * without touching the record batches. Only the flatbuffer tables the schema needs are read,
 * every offset bounds-checked: hostile bytes give an `invalid_argument` error naming what was
 * wrong, never a crash or a runaway allocation. The Python twin is snakepit_bridge/arrow_schema.py;
 * both spell types the same way (`docs/shared-memory.md` lists them).
 */

import { SnakepitError } from "../errors.ts";

/** One column (or child of a nested column). */
export interface ArrowField {
  name: string;
  /** e.g. "int32", "float64", "utf8", "bool", "timestamp[us, UTC]", "list", "struct". */
  type: string;
  nullable: boolean;
  /** Dictionary-encoded: `type` is the values' type, indices are `indexType`. */
  dictionary?: { id: number; indexType: string; ordered: boolean };
  children?: ArrowField[];
}

/** What the metadata says about an Arrow IPC buffer. */
export interface ArrowSchema {
  format: "stream" | "file";
  fields: ArrowField[];
  metadata?: Record<string, string>;
}

const MAX_DEPTH = 64;
const MAX_FIELDS = 100_000;
const UNITS = ["s", "ms", "us", "ns"];

export function bad(what: string): SnakepitError {
  return new SnakepitError("invalid_argument", `Not a valid Arrow IPC buffer: ${what}`, { details: { field: "arrow" } });
}

/** Bounds-checked flatbuffer reads over one message's metadata (internal: arrow-rows.ts reads with it too). */
export class Flat {
  readonly #v: DataView;
  readonly #b: Uint8Array;
  fields = 0;
  text = 0;

  constructor(bytes: Uint8Array) {
    this.#b = bytes;
    this.#v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(at: number, n: number, what: string): void {
    if (!(at >= 0 && at + n <= this.#b.byteLength)) throw bad(`${what} at offset ${at} runs past the ${this.#b.byteLength}-byte metadata`);
  }

  u32(at: number, what: string): number {
    this.#need(at, 4, what);
    return this.#v.getUint32(at, true);
  }

  /** The table a uoffset at `at` points to. */
  ref(at: number, what: string): number {
    return at + this.u32(at, what);
  }

  /** Position of field `i` of the table at `t`, or 0 when absent. */
  field(t: number, i: number): number {
    this.#need(t, 4, "table");
    const vt = t - this.#v.getInt32(t, true);
    this.#need(vt, 4, "vtable");
    const size = this.#v.getUint16(vt, true);
    if (4 + 2 * i + 2 > size) return 0;
    this.#need(vt + 4 + 2 * i, 2, "vtable entry");
    const off = this.#v.getUint16(vt + 4 + 2 * i, true);
    return off ? t + off : 0;
  }

  int(t: number, i: number, width: 1 | 2 | 4 | 8, dflt: number): number {
    const p = this.field(t, i);
    if (!p) return dflt;
    this.#need(p, width, "scalar");
    if (width === 1) return this.#v.getUint8(p);
    if (width === 2) return this.#v.getInt16(p, true);
    if (width === 4) return this.#v.getInt32(p, true);
    return Number(this.#v.getBigInt64(p, true));
  }

  str(t: number, i: number, what: string): string | undefined {
    const p = this.field(t, i);
    if (!p) return undefined;
    const s = this.ref(p, what);
    const n = this.u32(s, what);
    this.#need(s + 4, n, what);
    // Strings pointing at the same bytes over and over could make a small buffer decode gigabytes.
    if ((this.text += n) > 2 * this.#b.byteLength + 65_536) throw bad("its strings add up to more than the metadata holds");
    return new TextDecoder("utf-8", { fatal: false }).decode(this.#b.subarray(s + 4, s + 4 + n));
  }

  /** Tables of a vector of tables (field `i` of `t`). */
  tables(t: number, i: number, what: string): number[] {
    const p = this.field(t, i);
    if (!p) return [];
    const v = this.ref(p, what);
    const n = this.u32(v, what);
    this.#need(v + 4, n * 4, `${what} (${n} entries)`);
    if ((this.fields += n) > MAX_FIELDS) throw bad(`more than ${MAX_FIELDS} fields`);
    return Array.from({ length: n }, (_, k) => this.ref(v + 4 + 4 * k, what));
  }

  table(t: number, i: number): number {
    const p = this.field(t, i);
    return p ? this.ref(p, "table") : 0;
  }
}

function intName(f: Flat, t: number): string {
  const bits = f.int(t, 0, 4, 0);
  if (![8, 16, 32, 64].includes(bits)) throw bad(`integer of ${bits} bits`);
  return `${f.int(t, 1, 1, 0) ? "int" : "uint"}${bits}`;
}

function typeName(f: Flat, id: number, t: number): string {
  const unit = (i: number, d: number) => UNITS[f.int(t, i, 2, d)] ?? "?";
  switch (id) {
    case 1: return "null";
    case 2: return intName(f, t);
    case 3: return ["float16", "float32", "float64"][f.int(t, 0, 2, 0)] ?? "float?";
    case 4: return "binary";
    case 5: return "utf8";
    case 6: return "bool";
    case 7: return `decimal${f.int(t, 2, 4, 128)}(${f.int(t, 0, 4, 0)}, ${f.int(t, 1, 4, 0)})`;
    case 8: return f.int(t, 0, 2, 1) === 0 ? "date32[day]" : "date64[ms]";
    case 9: return `time${f.int(t, 1, 4, 32)}[${unit(0, 1)}]`;
    case 10: {
      const tz = f.str(t, 1, "timezone");
      return `timestamp[${unit(0, 0)}${tz ? `, ${tz}` : ""}]`;
    }
    case 11: return `interval[${["year_month", "day_time", "month_day_nano"][f.int(t, 0, 2, 0)] ?? "?"}]`;
    case 12: return "list";
    case 13: return "struct";
    case 14: return `${f.int(t, 0, 2, 0) ? "dense" : "sparse"}_union`;
    case 15: return `fixed_size_binary[${f.int(t, 0, 4, 0)}]`;
    case 16: return `fixed_size_list[${f.int(t, 0, 4, 0)}]`;
    case 17: return "map";
    case 18: return `duration[${unit(0, 1)}]`;
    case 19: return "large_binary";
    case 20: return "large_utf8";
    case 21: return "large_list";
    case 22: return "run_end_encoded";
    case 23: return "binary_view";
    case 24: return "utf8_view";
    case 25: return "list_view";
    case 26: return "large_list_view";
    default: throw bad(`unknown type id ${id}`);
  }
}

function readField(f: Flat, t: number, depth: number): ArrowField {
  if (depth > MAX_DEPTH) throw bad(`fields nested deeper than ${MAX_DEPTH}`);
  const typeId = f.int(t, 2, 1, 0);
  const out: ArrowField = {
    name: f.str(t, 0, "field name") ?? "",
    type: typeName(f, typeId, typeId ? f.table(t, 3) : 0),
    nullable: f.int(t, 1, 1, 0) !== 0,
  };
  const dict = f.table(t, 4);
  if (dict) {
    const index = f.table(dict, 1);
    out.dictionary = { id: f.int(dict, 0, 8, 0), indexType: index ? intName(f, index) : "int32", ordered: f.int(dict, 2, 1, 0) !== 0 };
  }
  const children = f.tables(t, 5, "children");
  if (children.length) out.children = children.map((c) => readField(f, c, depth + 1));
  return out;
}

/** Where the schema is: in the first message of a stream, in the footer of a file. */
function locate(bytes: Uint8Array): { meta: Uint8Array; format: ArrowSchema["format"] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  if (n >= 6 && new TextDecoder().decode(bytes.subarray(0, 6)) === "ARROW1") {
    if (n < 18 || new TextDecoder().decode(bytes.subarray(n - 6)) !== "ARROW1") throw bad(`truncated file: ${n} bytes and no closing "ARROW1" magic`);
    const len = view.getInt32(n - 10, true);
    if (len <= 0 || len > n - 18) throw bad(`footer length ${len} does not fit the ${n}-byte file (truncated or corrupt)`);
    return { meta: bytes.subarray(n - 10 - len, n - 10), format: "file" };
  }
  if (n < 8) throw bad(`truncated: ${n} bytes cannot hold a schema message`);
  let at = 4;
  let len = view.getInt32(0, true);
  if (len === -1) {
    len = view.getInt32(4, true);
    at = 8;
  } else if (len < 8 || len > n) {
    throw bad(`wrong magic: starts with 0x${view.getUint32(0, false).toString(16).padStart(8, "0")}, expected the continuation marker 0xffffffff or "ARROW1"`);
  } // else pre-0.15 framing: the length alone
  if (len <= 0 || at + len > n) throw bad(`schema message length ${len} does not fit the ${n - at} bytes left (truncated or corrupt)`);
  return { meta: bytes.subarray(at, at + len), format: "stream" };
}

/** Read the schema of an Arrow IPC buffer (stream or file format). */
export function parseArrowSchema(bytes: Uint8Array): ArrowSchema {
  if (!(bytes instanceof Uint8Array)) throw bad("expected a Uint8Array");
  const { meta, format } = locate(bytes);
  const f = new Flat(meta);
  const root = f.ref(0, "message");
  if (format === "stream") {
    const kind = f.int(root, 1, 1, 0);
    if (kind !== 1) throw bad(`the first message is a ${["none", "schema", "dictionary batch", "record batch", "tensor", "sparse tensor"][kind] ?? `kind ${kind}`}, not a schema`);
  }
  const schema = f.table(root, format === "stream" ? 2 : 1);
  if (!schema) throw bad(`the ${format === "stream" ? "schema message" : "footer"} has no schema`);
  if (f.int(schema, 0, 2, 0) !== 0) throw bad("big-endian data is not supported");
  const out: ArrowSchema = { format, fields: f.tables(schema, 1, "fields").map((t) => readField(f, t, 0)) };
  const kv = f.tables(schema, 2, "metadata");
  if (kv.length) out.metadata = Object.fromEntries(kv.map((t) => [f.str(t, 0, "key") ?? "", f.str(t, 1, "value") ?? ""]));
  return out;
}

// The Arrow IPC schema reader against real IPC written by apache-arrow (many types, both
// formats) and against hostile bytes: every bad input is an invalid_argument naming the problem.
import { describe, expect, test } from "bun:test";
import {
  Bool, DateDay, Dictionary, Field, Float32, Float64, Int8, Int16, Int32, Int64, List, Schema, Struct, Table,
  TimestampMicrosecond, TimestampMillisecond, Uint8, Utf8, tableFromArrays, tableToIPC, vectorFromArray,
} from "apache-arrow";
import { parseArrowSchema } from "../../src/bridge/arrow-schema.ts";
import { arrowIPC, ArrowIPC } from "../../src/bridge/arrow.ts";
import { SnakepitError } from "../../src/errors.ts";

/** A table with one column of each kind the tests care about. */
export function sampleTable(rows = 3): Table {
  const n = Array.from({ length: rows }, (_, i) => i);
  return new Table({
    i8: vectorFromArray(n.map((i) => i % 100), new Int8()),
    i16: vectorFromArray(n, new Int16()),
    i32: vectorFromArray(n, new Int32()),
    i64: vectorFromArray(n.map(BigInt), new Int64()),
    u8: vectorFromArray(n.map((i) => i % 200), new Uint8()),
    f32: vectorFromArray(n.map((i) => i + 0.5), new Float32()),
    f64: vectorFromArray(n.map((i) => (i % 3 ? i / 3 : null)), new Float64()),
    s: vectorFromArray(n.map((i) => (i % 4 ? `row ${i}` : null)), new Utf8()),
    b: vectorFromArray(n.map((i) => (i % 5 ? i % 2 === 0 : null)), new Bool()),
    d: vectorFromArray(n.map((i) => ["red", "green", "blue"][i % 3]!), new Dictionary(new Utf8(), new Int16())),
    ts: vectorFromArray(n.map((i) => new Date(1_700_000_000_000 + i)), new TimestampMicrosecond("UTC")),
    tsn: vectorFromArray(n.map((i) => new Date(i)), new TimestampMillisecond()),
    day: vectorFromArray(n.map((i) => new Date(i * 86_400_000)), new DateDay()),
    l: vectorFromArray(n.map((i) => [i, i + 1]), new List(new Field("item", new Int32(), true))),
    st: vectorFromArray(n.map((i) => ({ x: i, y: `y${i}` })), new Struct([new Field("x", new Int32(), true), new Field("y", new Utf8(), true)])),
  });
}

export const SAMPLE_FIELDS = [
  { name: "i8", type: "int8" }, { name: "i16", type: "int16" }, { name: "i32", type: "int32" }, { name: "i64", type: "int64" },
  { name: "u8", type: "uint8" }, { name: "f32", type: "float32" }, { name: "f64", type: "float64" }, { name: "s", type: "utf8" },
  { name: "b", type: "bool" }, { name: "d", type: "utf8", dictionary: { id: 0, indexType: "int16", ordered: false } },
  { name: "ts", type: "timestamp[us, UTC]" }, { name: "tsn", type: "timestamp[ms]" }, { name: "day", type: "date32[day]" },
  { name: "l", type: "list", children: [{ name: "item", type: "int32", nullable: true }] },
  { name: "st", type: "struct", children: [{ name: "x", type: "int32", nullable: true }, { name: "y", type: "utf8", nullable: true }] },
];

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SnakepitError);
    expect((err as SnakepitError).code).toBe("invalid_argument");
    return (err as Error).message;
  }
  throw new Error("expected an invalid_argument error");
}

describe("Arrow IPC schema", () => {
  test("every column's name, type and dictionary, in stream and file format", () => {
    const t = sampleTable();
    for (const format of ["stream", "file"] as const) {
      const schema = parseArrowSchema(tableToIPC(t, format));
      expect(schema.format).toBe(format);
      expect(schema.fields).toMatchObject(SAMPLE_FIELDS);
    }
  });

  test("nullability as declared", () => {
    const t = new Table(new Schema([new Field("a", new Int32(), false), new Field("b", new Utf8(), true)]));
    expect(parseArrowSchema(tableToIPC(t)).fields).toEqual([{ name: "a", type: "int32", nullable: false }, { name: "b", type: "utf8", nullable: true }]);
    const nullable = tableFromArrays({ s: ["x", null] });
    expect(parseArrowSchema(tableToIPC(nullable)).fields[0]!.nullable).toBe(true);
  });

  test("custom schema metadata and an empty table", () => {
    const t = sampleTable(0);
    const withMeta = new Table(t.schema.select(["i32"]).assign(new Field("i32", new Int32(), true)), []);
    withMeta.schema.metadata.set("origin", "test");
    const schema = parseArrowSchema(tableToIPC(withMeta));
    expect(schema.metadata).toEqual({ origin: "test" });
    expect(schema.fields).toEqual([{ name: "i32", type: "int32", nullable: true }]);
  });

  test("hostile bytes: a typed error naming what is wrong, never a crash", () => {
    const good = tableToIPC(sampleTable(), "stream");
    expect(invalid(() => parseArrowSchema(new Uint8Array(0)))).toMatch(/truncated: 0 bytes/);
    expect(invalid(() => parseArrowSchema(new TextEncoder().encode("hello, this is not arrow")))).toMatch(/wrong magic: starts with 0x68656c6c/);
    expect(invalid(() => parseArrowSchema(good.subarray(0, 40)))).toMatch(/schema message length \d+ does not fit/);
    const huge = good.slice();
    new DataView(huge.buffer).setInt32(4, 0x7fff_fff0, true);
    expect(invalid(() => parseArrowSchema(huge))).toMatch(/schema message length 2147483632 does not fit/);
    const file = tableToIPC(sampleTable(), "file");
    expect(invalid(() => parseArrowSchema(file.subarray(0, file.length - 1)))).toMatch(/no closing "ARROW1"/);
    const badFooter = file.slice();
    new DataView(badFooter.buffer).setInt32(badFooter.length - 10, 1 << 30, true);
    expect(invalid(() => parseArrowSchema(badFooter))).toMatch(/footer length 1073741824 does not fit/);
    // Offsets inside the metadata pointing outside it.
    const wild = good.slice();
    new DataView(wild.buffer).setUint32(8, 0xffff_fff0, true);
    expect(invalid(() => parseArrowSchema(wild))).toMatch(/runs past the \d+-byte metadata/);
    // Random garbage behind a valid header: always typed, whatever the bytes.
    for (let seed = 1; seed < 300; seed++) {
      const junk = good.slice();
      let x = seed;
      for (let i = 8; i < Math.min(junk.length, 400); i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        if (x % 7 === 0) junk[i] = x >>> 24;
      }
      try {
        parseArrowSchema(junk);
      } catch (err) {
        expect((err as SnakepitError).code).toBe("invalid_argument");
      }
    }
  });

  test("a record batch where the schema should be is named", () => {
    const good = tableToIPC(tableFromArrays({ a: Int32Array.from([1]) }), "stream");
    const metaLen = new DataView(good.buffer, good.byteOffset).getInt32(4, true);
    const rest = good.subarray(8 + metaLen); // the record batch message
    expect(invalid(() => parseArrowSchema(rest))).toMatch(/the first message is a record batch, not a schema/);
  });

  test("ArrowIPC: arrowIPC() validates, exposes the schema, converts to a Table, and throws once released", () => {
    const ipc = arrowIPC(tableToIPC(sampleTable(5)));
    expect(ipc).toBeInstanceOf(ArrowIPC);
    expect(ipc.schema.fields.map((f) => f.name)).toEqual(SAMPLE_FIELDS.map((f) => f.name));
    const t = ipc.toTable<Table>();
    expect(t.numRows).toBe(5);
    expect(t.getChild("s")!.get(1)).toBe("row 1");
    expect(arrowIPC(ipc)).toBe(ipc);
    expect(invalid(() => arrowIPC(new Uint8Array([1, 2, 3])))).toMatch(/truncated/);
    expect(invalid(() => arrowIPC("nope" as unknown as Uint8Array))).toMatch(/takes a Uint8Array/);
    expect(ipc.release()).toBe(0); // not shared memory: nothing to unmap
    expect(ipc.released).toBe(true);
    expect(invalid(() => ipc.bytes)).toMatch(/was released/);
    expect(invalid(() => ipc.toTable())).toMatch(/was released/);
  });
});

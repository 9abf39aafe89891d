// The Arrow IPC schema reader against real IPC written by apache-arrow (many types, both
// formats) and against hostile bytes: every bad input is an invalid_argument naming the problem.
import { describe, expect, test } from "bun:test";
import { Field, Int32, Schema, Table, Utf8, tableFromArrays, tableToIPC } from "apache-arrow";
import { parseArrowSchema } from "../../src/bridge/arrow-schema.ts";
import { arrowIPC, ArrowIPC } from "../../src/bridge/arrow.ts";
import { fromHttpJson, toHttpJson } from "../../src/api/http-json.ts";
import { SnakepitError } from "../../src/errors.ts";
import { SAMPLE_FIELDS, sampleTable } from "../fixtures/arrow-sample.ts";

/** A hand-made schema message: `n` fields, every one the same table, named with `len` bytes. */
function repeatedName(n: number, len: number): Uint8Array {
  const field = 48 + 4 * n;
  const m = new DataView(new ArrayBuffer(field + 28 + len));
  const u16 = (at: number, ...xs: number[]) => xs.forEach((x, i) => m.setUint16(at + 2 * i, x, true));
  m.setUint32(0, 16, true); // root: the message table
  u16(4, 10, 12, 0, 4, 8); // message vtable: header_type at +4, header at +8
  m.setInt32(16, 12, true);
  m.setUint8(20, 1); // a schema
  m.setUint32(24, 36 - 24, true);
  u16(28, 8, 8, 0, 4); // schema vtable: fields at +4
  m.setInt32(36, 8, true);
  m.setUint32(40, 44 - 40, true);
  m.setUint32(44, n, true);
  for (let k = 0; k < n; k++) m.setUint32(48 + 4 * k, field + 12 - (48 + 4 * k), true);
  u16(field, 10, 12, 4, 0, 8); // field vtable: name at +4, type_type at +8
  m.setInt32(field + 12, 12, true);
  m.setUint32(field + 16, 8, true); // the name, right after the table
  m.setUint8(field + 20, 6); // bool
  m.setUint32(field + 24, len, true);
  new Uint8Array(m.buffer, field + 28, len).fill(0x78);
  const out = new Uint8Array(8 + m.byteLength);
  new DataView(out.buffer).setInt32(0, -1, true);
  new DataView(out.buffer).setInt32(4, m.byteLength, true);
  out.set(new Uint8Array(m.buffer), 8);
  return out;
}

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

  test("a small buffer whose fields all point at one long name is refused, not decoded 10 000 times", () => {
    expect(invalid(() => parseArrowSchema(repeatedName(10_000, 60_000)))).toMatch(/strings add up to more than the metadata holds/);
    expect(parseArrowSchema(repeatedName(3, 10)).fields).toEqual(Array(3).fill({ name: "x".repeat(10), type: "bool", nullable: false }));
  });

  test("numRows sums the record batch headers (many batches, both formats, empty) without apache-arrow", () => {
    const t = sampleTable(5);
    const part = (n: number) => tableFromArrays({ x: Int32Array.from({ length: n }, (_, i) => i), y: new Float64Array(n).fill(0.5) });
    const many = part(5).concat(part(7), part(0));
    expect(many.batches.length).toBe(3);
    for (const format of ["stream", "file"] as const) {
      expect(arrowIPC(tableToIPC(t, format)).numRows).toBe(5);
      expect(arrowIPC(tableToIPC(many, format)).numRows).toBe(12);
      expect(arrowIPC(tableToIPC(new Table(t.schema), format)).numRows).toBe(0);
    }
    const cut = tableToIPC(sampleTable(50));
    expect(invalid(() => arrowIPC(cut.subarray(0, cut.length - 100)).numRows)).toMatch(/runs past the end/);
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

  test("over HTTP JSON an Arrow result is base64 with its schema, and such a request becomes an ArrowIPC", () => {
    const ipc = arrowIPC(tableToIPC(sampleTable(4)));
    const wire = toHttpJson({ t: ipc }) as { t: Record<string, unknown> };
    expect(wire.t).toMatchObject({ __snakepit__: "arrow", schema: ipc.schema });
    expect(typeof wire.t.base64).toBe("string");
    const back = (fromHttpJson(JSON.parse(JSON.stringify(wire))) as { t: ArrowIPC }).t;
    expect(back).toBeInstanceOf(ArrowIPC);
    expect(back.bytes).toEqual(ipc.bytes);
    const bad = { __snakepit__: "arrow", base64: Buffer.from("not arrow at all").toString("base64") };
    expect(invalid(() => fromHttpJson({ t: bad }))).toMatch(/wrong magic/);
  });
});

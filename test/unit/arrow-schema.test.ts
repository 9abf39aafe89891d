// The Arrow IPC schema reader against real IPC written by apache-arrow (many types, both
// formats) and against hostile bytes: every bad input is an invalid_argument naming the problem.
import { describe, expect, test } from "bun:test";
import { Field, Int32, Schema, Table, Utf8, tableFromArrays, tableToIPC } from "apache-arrow";
import { parseArrowSchema } from "../../src/bridge/arrow-schema.ts";
import { arrowIPC, ArrowIPC } from "../../src/bridge/arrow.ts";
import { fromHttpJson, toHttpJson } from "../../src/api/http-json.ts";
import { SnakepitError } from "../../src/errors.ts";
import { SAMPLE_FIELDS, sampleTable } from "../fixtures/arrow-sample.ts";

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

import { describe, expect, test } from "bun:test";
import { encodeValue, reviveValue } from "../../src/bridge/codec.ts";

describe("encodeValue()", () => {
  test("leaves plain JSON untouched (same object, no copy)", () => {
    const value = { a: [1, "x", null, { b: true }] };
    const enc = encodeValue(value);
    expect(enc.value).toBe(value);
    expect(enc.typed).toBe(false);
    expect(enc.attachments).toEqual([]);
  });

  test("moves bytes to attachments and does not mutate the input", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const value = { list: [bytes], n: 1 };
    const enc = encodeValue(value);
    expect(enc.typed).toBe(true);
    expect(enc.value).toEqual({ list: [{ __snakepit__: "bytes", ref: 0 }], n: 1 });
    expect(enc.attachments[0]).toBe(bytes);
    expect(value.list[0]).toBe(bytes);
  });

  test("spells out bigint and non-finite numbers", () => {
    expect(encodeValue([2n ** 64n, NaN, Infinity, -Infinity]).value).toEqual([
      { __snakepit__: "int", value: "18446744073709551616" },
      { __snakepit__: "float", value: "nan" },
      { __snakepit__: "float", value: "inf" },
      { __snakepit__: "float", value: "-inf" },
    ]);
  });

  test("typed arrays become 1-D ndarrays; Map, Set and Date become JSON", () => {
    const enc = encodeValue({ f: new Float64Array([1, 2]), m: new Map([["k", 1]]), s: new Set([1]), d: new Date(0) });
    expect(enc.value).toEqual({
      f: { __snakepit__: "ndarray", dtype: "float64", shape: [2], ref: 0 },
      m: { k: 1 },
      s: [1],
      d: "1970-01-01T00:00:00.000Z",
    });
  });
});

describe("reviveValue()", () => {
  test("turns tags back into host values", () => {
    const a = new Uint8Array([9]);
    const f = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const out = reviveValue(
      [{ __snakepit__: "bytes", ref: 0 }, { __snakepit__: "int", value: "5" }, { __snakepit__: "int", value: "99999999999999999999" },
        { __snakepit__: "float", value: "-inf" }, { __snakepit__: "ndarray", dtype: "float32", shape: [2, 1], ref: 1 }],
      [a, f],
    ) as unknown[];
    expect(out[0]).toBe(a);
    expect(out[1]).toBe(5);
    expect(out[2]).toBe(99999999999999999999n);
    expect(out[3]).toBe(-Infinity);
    expect(out[4]).toMatchObject({ dtype: "float32", shape: [2, 1] });
    expect([...(out[4] as { data: Float32Array }).data]).toEqual([1.5, -2]);
  });

  test("copies misaligned array data instead of failing", () => {
    const buf = new Uint8Array(9);
    buf.set(new Uint8Array(new Float64Array([3.25]).buffer), 1);
    const out = reviveValue({ __snakepit__: "ndarray", dtype: "float64", shape: [1], ref: 0 }, [buf.subarray(1)]) as { data: Float64Array };
    expect([...out.data]).toEqual([3.25]);
  });
});

// Typed values from a peer that lies (a hostile tool's raw "__snakepit__" dicts, an HTTP client's
// JSON): an attachment index must be a whole number (never "__proto__", which handed out the
// real Array.prototype), and an ndarray's shape must match its bytes.
import { describe, expect, test } from "bun:test";
import { reviveValue } from "../../src/bridge/codec.ts";
import { fromHttpJson } from "../../src/api/http-json.ts";

describe("reviveValue() with lying typed values", () => {
  test('ref "__proto__" / "constructor" / out of range give empty bytes, never a prototype or function', () => {
    const out = reviveValue([{ __snakepit__: "bytes", ref: "__proto__" }, { __snakepit__: "bytes", ref: "constructor" }, { __snakepit__: "bytes", ref: 7 }], [new Uint8Array([1])]) as unknown[];
    for (const v of out) {
      expect(v).toBeInstanceOf(Uint8Array);
      expect((v as Uint8Array).length).toBe(0);
    }
    expect(Object.getPrototypeOf(out[0])).not.toBe(Object.getPrototypeOf([]));
  });

  test("an ndarray whose shape does not match its bytes is refused with invalid_argument", () => {
    expect(() => reviveValue({ __snakepit__: "ndarray", dtype: "float64", shape: [1_000_000_000], ref: 0 }, [new Uint8Array(8)])).toThrow(/cannot hold 8 bytes/);
    expect(() => reviveValue({ __snakepit__: "ndarray", dtype: "float64", shape: [1], ref: 0 }, [new Uint8Array(3)])).toThrow(/cannot hold 3 bytes/);
    expect(() => reviveValue({ __snakepit__: "ndarray", dtype: "float64", shape: "x", ref: 0 }, [new Uint8Array(8)])).toThrow(/invalid|cannot hold/);
  });

  test("over HTTP JSON, a client's ref is refused outright (typed values from clients carry base64)", () => {
    expect(() => fromHttpJson({ x: { __snakepit__: "bytes", ref: "__proto__" } })).toThrow(/args.x: .*not "ref" or "shm"/);
    expect(Object.getPrototypeOf([])).toBe(Array.prototype);
  });
});

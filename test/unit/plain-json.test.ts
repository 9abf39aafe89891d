import { expect, test } from "bun:test";
import { encodeValue } from "../../src/bridge/codec.ts";
import { isPlainJson, PLAIN_DEPTH } from "../../src/bridge/plain-json.ts";

test("isPlainJson() passes only what the codec would leave as it is", () => {
  const plain: unknown[] = [1, "s", true, null, undefined, { a: 1, b: [1, "x", null] }, [], {}, { toolName: "add", args: { a: 1, b: { c: [2] } } }];
  for (const v of plain) {
    expect(isPlainJson(v, PLAIN_DEPTH)).toBe(true);
    const enc = encodeValue(v);
    expect(enc.value).toBe(v); // the codec would not have copied anything either
    expect(enc.typed).toBe(false);
  }
  class Point {
    x = 1;
  }
  const typed: unknown[] = [NaN, Infinity, -Infinity, 10n, new Uint8Array(2), new Float32Array(1), new ArrayBuffer(1), new Date(0), new Map(), new Set(), new Point(),
    { a: { b: NaN } }, [1, [2, new Uint8Array(1)]], { data: new Int32Array(1), dtype: "int32", shape: [1] }, () => 1, Symbol("s"), { toJSON: () => 1 }];
  for (const v of typed) expect(isPlainJson(v, PLAIN_DEPTH)).toBe(false);
  // Deeper than the limit: left to the codec (which handles any depth).
  expect(isPlainJson({ a: { b: { c: { d: { e: 1 } } } } }, PLAIN_DEPTH)).toBe(false);
});

import { describe, expect, test } from "bun:test";
import { encodePacket, FLAG_TYPED, FrameDecoder } from "../../src/bridge/frames.ts";

describe("FrameDecoder.push()", () => {
  test("decodes packets split at every byte boundary", () => {
    const bytes = new Uint8Array([...encodePacket('{"a":1}'), ...encodePacket('{"b":"é"}', [], true)]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      expect(out.map((p) => p.json)).toEqual(['{"a":1}', '{"b":"é"}']);
      expect(out[1]!.flags & FLAG_TYPED).toBe(FLAG_TYPED);
      expect(d.pendingBytes).toBe(0);
    }
  });

  test("gives attachments to the packet that follows them", () => {
    const d = new FrameDecoder();
    const out = d.push(encodePacket('{"x":0}', [new Uint8Array([1, 2]), new Uint8Array(0)], true));
    expect(out).toHaveLength(1);
    expect(out[0]!.attachments.map((a) => [...a])).toEqual([[1, 2], []]);
  });

  test("assembles a large frame delivered in many chunks", () => {
    const blob = new Uint8Array(1_000_000).map((_, i) => i % 256);
    const bytes = encodePacket("{}", [blob]);
    const d = new FrameDecoder();
    const out = [];
    for (let at = 0; at < bytes.length; at += 65_536) out.push(...d.push(bytes.subarray(at, at + 65_536)));
    expect(out).toHaveLength(1);
    expect(Buffer.compare(out[0]!.attachments[0]!, blob)).toBe(0);
  });

  test("decodes many packets of one chunk: ASCII, non-ASCII, headers with bytes over 0x7f, attachments between", () => {
    const long = `{"s":"${"x".repeat(200)}"}`; // its length header holds a byte over 0x7f
    const sets = [
      ['{"a":1}', long, '{"b":2}'],
      ['{"a":1}', '{"b":"é€😀"}', long, '{"c":3}'],
    ];
    for (const jsons of sets) {
      const bytes = new Uint8Array(jsons.flatMap((j) => [...encodePacket(j)]));
      expect(new FrameDecoder().push(bytes).map((p) => p.json)).toEqual(jsons);
    }
    const mixed = new Uint8Array([...encodePacket('{"a":1}'), ...encodePacket('{"b":2}', [new Uint8Array([0xc3, 0xa9, 0xff])], true), ...encodePacket(long)]);
    const out = new FrameDecoder().push(mixed);
    expect(out.map((p) => p.json)).toEqual(['{"a":1}', '{"b":2}', long]);
    expect(out.map((p) => p.attachments.map((a) => [...a]))).toEqual([[], [[0xc3, 0xa9, 0xff]], []]);
  });

  test("rejects a frame longer than the limit", () => {
    const d = new FrameDecoder();
    expect(() => d.push(new Uint8Array([0, 0xff, 0xff, 0xff, 0xff]))).toThrow("over the limit");
  });
});

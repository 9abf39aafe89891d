import { describe, expect, test } from "bun:test";
import { pullStream } from "../../src/api/streams.ts";
import { anyGlob, globMatcher } from "../../src/telemetry/glob.ts";

describe("globMatcher()", () => {
  test("matches * globs", () => {
    expect(globMatcher("python.*")("python.gc")).toBe(true);
    expect(globMatcher("python.*")("pythonx")).toBe(false);
    expect(globMatcher("*.stop")("call.stop")).toBe(true);
    expect(globMatcher("a*b*c")("aXXbYYc")).toBe(true);
    expect(globMatcher("a*b*c")("aXXcYYb")).toBe(false);
    expect(globMatcher("exact")("exact")).toBe(true);
    expect(anyGlob([])("anything")).toBe(true);
  });
  test("a pathological glob is answered without backtracking", () => {
    const name = "x".repeat(5_000);
    expect(globMatcher("*".repeat(150) + "!")(name)).toBe(false);
    expect(() => globMatcher("*".repeat(201))).toThrow("longer than 200");
  });
});

describe("pullStream()", () => {
  test("takes the next item only when the reader asks (backpressure)", async () => {
    let produced = 0;
    async function* numbers() {
      for (let i = 0; i < 1_000; i++) {
        produced++;
        yield i;
      }
    }
    const enc = new TextEncoder();
    const stream = pullStream(numbers(), { item: (n) => enc.encode(`${n}\n`), end: () => enc.encode("end\n"), error: () => enc.encode("error\n"), keepAlive: enc.encode("\n") });
    await Bun.sleep(20);
    expect(produced).toBeLessThanOrEqual(2);
    const reader = stream.getReader();
    await reader.read();
    await reader.read();
    await Bun.sleep(20);
    expect(produced).toBeLessThanOrEqual(4);
    await reader.cancel();
  });
  test("sends keep-alive bytes while the source is quiet", async () => {
    async function* slow() {
      await Bun.sleep(80);
      yield "x";
    }
    const enc = new TextEncoder();
    const stream = pullStream(slow(), { item: (s) => enc.encode(s), end: () => enc.encode("."), error: () => enc.encode("!"), keepAlive: enc.encode("~") }, { keepAliveMs: 20 });
    expect(await new Response(stream).text()).toMatch(/^~+x\.$/);
  });
});

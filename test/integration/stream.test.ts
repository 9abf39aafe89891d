import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON } from "../helpers.ts";

let pit: Snakepit;
beforeAll(async () => {
  pit = await Snakepit.start({ adapter: fixture("streams.py"), poolSize: 1, python: PYTHON });
});
afterAll(() => pit.close());

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("Snakepit.stream()", () => {
  test("yields every chunk in order", async () => {
    expect(await collect(pit.stream("numbers", { n: 1000 }))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  test("async generators stream too", async () => {
    expect(await collect(pit.stream("anumbers", { n: 3 }))).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  test("break closes the Python generator and frees the worker", async () => {
    const before = await pit.execute<number>("closed_count");
    const seen: number[] = [];
    for await (const x of pit.stream<number>("numbers", { n: 1_000_000, delay_ms: 1 })) {
      seen.push(x);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([0, 1, 2]);
    // The next call runs on the same (single) worker only once the stream has ended there.
    expect(await pit.execute<number>("closed_count")).toBe(before + 1);
    expect(pit.stats().inFlight).toBe(0);
  });

  test("an error after some chunks arrives after those chunks", async () => {
    const seen: unknown[] = [];
    const err = await failure((async () => {
      for await (const x of pit.stream("fail_after", { n: 2 })) seen.push(x);
    })());
    expect(seen).toEqual([0, 1]);
    expect(err).toMatchObject({ code: "python_exception", python: { type: "ValueError" } });
  });

  test("a slow consumer is not flooded: chunks wait in Python (backpressure)", async () => {
    let count = 0;
    for await (const chunk of pit.stream<Uint8Array>("big_chunks", { n: 600, size: 64 * 1024 })) {
      expect(chunk.length).toBe(64 * 1024);
      if (count++ % 100 === 0) await Bun.sleep(5);
    }
    expect(count).toBe(600);
  });

  test("executeStream() calls back once per chunk (the seed's execute_stream)", async () => {
    const chunks: number[] = [];
    await pit.executeStream<number>("numbers", { n: 5 }, (c) => {
      chunks.push(c);
    });
    expect(chunks).toEqual([0, 1, 2, 3, 4]);
  });

  test("a stream of an unknown tool fails with tool_not_found", async () => {
    await expect(collect(pit.stream("nope"))).rejects.toMatchObject({ code: "tool_not_found" });
  });

  test("an aborted stream rejects with aborted and releases the worker", async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    const err = await failure((async () => {
      for await (const x of pit.stream<number>("numbers", { n: 1_000_000, delay_ms: 1 }, { signal: ac.signal })) {
        seen.push(x);
        if (seen.length === 2) ac.abort();
      }
    })());
    expect(err).toMatchObject({ code: "aborted" });
    expect(await pit.execute("closed_count")).toBeGreaterThan(0);
  });
});

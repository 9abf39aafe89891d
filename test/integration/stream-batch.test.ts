// Streams whose chunks travel batched (MESSAGES packets): order and values, backpressure, stalls,
// cancellation and deadlines mid-batch, against a real Python worker.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STREAM_WINDOW } from "../../src/bridge/channel.ts";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON, waitUntil } from "../helpers.ts";

let pit: Snakepit;
const dir = mkdtempSync(join(tmpdir(), "snakepit-batch-"));
beforeAll(async () => {
  pit = await Snakepit.start({ adapter: fixture("streams.py"), poolSize: 1, python: PYTHON });
});
afterAll(async () => {
  await pit.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("batched streams", () => {
  test("a fast stream arrives whole and in order", async () => {
    let next = 0;
    for await (const x of pit.stream<number>("fast", { n: 50_000 })) {
      if (x !== next) throw new Error(`chunk ${next} came as ${x}`);
      next++;
    }
    expect(next).toBe(50_000);
  });

  test("every kind of chunk keeps its place and its value", async () => {
    const got: unknown[] = [];
    for await (const x of pit.stream("mixed")) got.push(x);
    expect(got).toEqual([1, "two", 3.5, null, true, 2n ** 60n, Infinity, { six: 6 }, new Uint8Array([0, 7]), 8, 9, "ten"]);
  });

  test("a consumer that stops reading holds the generator at the window", async () => {
    const path = join(dir, "count");
    const stream = pit.stream<number>("counted", { n: 2_000, path });
    const got: number[] = [];
    for (let i = 0; i < 10; i++) got.push((await stream.next()).value as number);
    // Python runs on while credit lasts; it must stop at the window, whatever the machine's speed.
    expect(await waitUntil(() => Number(readFileSync(path, "utf8")) >= STREAM_WINDOW, 10_000)).toBe(true);
    await Bun.sleep(300);
    expect(Number(readFileSync(path, "utf8"))).toBeLessThanOrEqual(STREAM_WINDOW + 1); // one taken from the generator, not sent
    for await (const x of stream) got.push(x);
    expect(got).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
  });

  test("chunks held when the generator stalls arrive before it resumes", async () => {
    const t0 = performance.now();
    const times: number[] = [];
    const got: number[] = [];
    for await (const x of pit.stream<number>("stalls", { first: 3, pause_s: 3, then: 2 })) {
      got.push(x);
      times.push(performance.now() - t0);
    }
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(times[2]! < 2_000).toBe(true); // the flusher wrote them; the pause is 3 s
    expect(times[3]! - times[2]! > 1_000).toBe(true);
  });

  test("breaking out mid-batch closes the generator and frees the worker", async () => {
    const before = await pit.execute<number>("closed_count");
    let seen = 0;
    for await (const _ of pit.stream<number>("fast", { n: 10_000_000 })) {
      if (++seen === 5_000) break;
    }
    expect(await pit.execute<number>("closed_count")).toBe(before + 1);
    expect(pit.stats().inFlight).toBe(0);
  });

  test("a deadline ends a fast stream with deadline_exceeded after the chunks before it", async () => {
    let seen = 0;
    const err = await failure((async () => {
      for await (const x of pit.stream<number>("fast", { n: 1e12 }, { timeoutMs: 300 })) {
        if (x !== seen++) throw new Error("out of order");
      }
    })());
    expect(err).toMatchObject({ code: "deadline_exceeded" });
    expect(seen).toBeGreaterThan(0);
    expect(await waitUntil(() => pit.stats().inFlight === 0, 10_000)).toBe(true);
    expect(await pit.execute<number>("closed_count")).toBeGreaterThan(0);
  });
});

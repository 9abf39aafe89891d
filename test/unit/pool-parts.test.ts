import { describe, expect, test } from "bun:test";
import { innerTimeoutMs } from "../../src/config/profiles.ts";
import { WaitQueue } from "../../src/pool/queue.ts";
import { leastLoaded } from "../../src/pool/select.ts";

const w = (inFlight: number, hasCapacity = true) => ({ inFlight, hasCapacity });

describe("leastLoaded()", () => {
  test("picks the worker with the fewest calls", () => {
    const ws = [w(3), w(1), w(2)];
    expect(leastLoaded(ws)).toBe(ws[1]!);
  });
  test("skips workers without capacity, unless busy ones are allowed", () => {
    const ws = [w(1, false), w(2, false)];
    expect(leastLoaded(ws)).toBeUndefined();
    expect(leastLoaded(ws, 0, undefined, true)).toBe(ws[0]!);
  });
  test("rotates among equally loaded workers", () => {
    const ws = [w(0), w(0), w(0)];
    expect(leastLoaded(ws, 1)).toBe(ws[1]!);
    expect(leastLoaded(ws, 2)).toBe(ws[2]!);
  });
});

describe("WaitQueue", () => {
  const waiter = (tag: string, log: string[], accepts?: (x: string) => boolean) => ({
    run: () => log.push(tag),
    fail: () => log.push(`fail:${tag}`),
    enqueuedAt: 0,
    ...(accepts ? { accepts } : {}),
  });
  test("is FIFO and supports O(1) removal", () => {
    const q = new WaitQueue<string>();
    const log: string[] = [];
    q.push(waiter("a", log));
    const removeB = q.push(waiter("b", log));
    q.push(waiter("c", log));
    expect(removeB()).toBe(true);
    expect(removeB()).toBe(false);
    q.takeFor("w")!.run("w");
    q.takeFor("w")!.run("w");
    expect(log).toEqual(["a", "c"]);
    expect(q.size).toBe(0);
  });
  test("takeFor() skips waiters that do not accept the worker", () => {
    const q = new WaitQueue<string>();
    const log: string[] = [];
    q.push(waiter("pinned", log, (x) => x === "w2"));
    q.push(waiter("any", log));
    q.takeFor("w1")!.run("w1");
    expect(log).toEqual(["any"]);
    expect(q.size).toBe(1);
  });
});

describe("innerTimeoutMs()", () => {
  test("subtracts the seed's margins from large budgets", () => {
    expect(innerTimeoutMs(60_000)).toBe(58_800);
  });
  test("keeps 90 % of small budgets", () => {
    expect(innerTimeoutMs(1_000)).toBe(900);
  });
  test("keeps infinity", () => {
    expect(innerTimeoutMs(Infinity)).toBe(Infinity);
  });
});

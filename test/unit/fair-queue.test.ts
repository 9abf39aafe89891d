// The pool's wait queue shares the workers fairly between keys (tools, or named clients), and a
// tool whose cancelled call still runs may not pin another worker. Queue unit tests, then the
// dispatcher's rules on in-memory workers with fake time.
import { describe, expect, test } from "bun:test";
import { SnakepitError } from "../../src/errors.ts";
import { WaitQueue, type Waiter } from "../../src/pool/queue.ts";
import { settle } from "../fake-clock.ts";
import { inMemoryPool } from "../in-memory-pool.ts";

const waiter = (tag: string, key: string, accepts?: (w: string) => boolean): Waiter<string> & { tag: string } => ({
  tag,
  key,
  run: () => {},
  fail: () => {},
  enqueuedAt: 0,
  ...(accepts ? { accepts } : {}),
});

const tagOf = (x: Waiter<string> | undefined): string | undefined => (x as (Waiter<string> & { tag: string }) | undefined)?.tag;

/** Take `n` waiters for worker "w" and return their tags (each reports `cost[key]` ms when done). */
function serve(q: WaitQueue<string>, n: number, cost: Record<string, number> = {}): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const next = q.takeFor("w") as (Waiter<string> & { tag: string }) | undefined;
    if (!next) break;
    out.push(next.tag);
    if (cost[next.key!] !== undefined) q.release(next, cost[next.key!]!);
  }
  return out;
}

describe("WaitQueue fairness", () => {
  test("keys are served in turn, FIFO inside a key", () => {
    const q = new WaitQueue<string>();
    for (let i = 1; i <= 3; i++) q.push(waiter(`a${i}`, "a"));
    for (let i = 1; i <= 3; i++) q.push(waiter(`b${i}`, "b"));
    expect(q.keys).toBe(2);
    expect(serve(q, 6)).toEqual(["a1", "b1", "a2", "b2", "a3", "b3"]);
    expect(q.size).toBe(0);
    expect(q.keys).toBe(0);
  });

  test("a key with one call waiting goes next, even behind a thousand of another key", () => {
    const q = new WaitQueue<string>();
    for (let i = 0; i < 1_000; i++) q.push(waiter(`bulk${i}`, "bulk"));
    serve(q, 10);
    q.push(waiter("probe", "probe"));
    expect(serve(q, 2)).toContain("probe");
  });

  test("shares are of worker time: a key of 10 ms calls is served a tenth as often as a key of 1 ms calls", () => {
    const q = new WaitQueue<string>();
    const slow = waiter("slow0", "slow");
    const quick = waiter("quick0", "quick");
    q.release(slow, 10); // averages learned from earlier calls (remembered while idle)
    q.release(quick, 1);
    for (let i = 0; i < 100; i++) q.push(waiter(`slow${i}`, "slow"));
    for (let i = 0; i < 100; i++) q.push(waiter(`quick${i}`, "quick"));
    const order = serve(q, 110, { slow: 10, quick: 1 });
    const slowServed = order.filter((t) => t.startsWith("slow")).length;
    expect(slowServed).toBeGreaterThanOrEqual(9);
    expect(slowServed).toBeLessThanOrEqual(11);
  });

  test("an idle key banks no credit: it rejoins at the current virtual time", () => {
    const q = new WaitQueue<string>();
    q.release(waiter("", "a"), 1);
    q.release(waiter("", "b"), 1);
    for (let i = 0; i < 50; i++) q.push(waiter(`a${i}`, "a"));
    serve(q, 40, { a: 1 }); // b was idle all along
    for (let i = 0; i < 10; i++) q.push(waiter(`b${i}`, "b"));
    // Alternates from now on instead of serving b's 10 calls in a row.
    const next = serve(q, 6, { a: 1, b: 1 });
    expect(next.filter((t) => t.startsWith("b")).length).toBe(3);
  });

  test("unshift puts a call at the front of its own key; removal by identity keeps the order", () => {
    const q = new WaitQueue<string>();
    q.push(waiter("a1", "a"));
    const removeA2 = q.push(waiter("a2", "a"));
    q.push(waiter("b1", "b"));
    q.unshift(waiter("a0", "a"));
    q.unshift(waiter("c0", "c"));
    expect(removeA2()).toBe(true);
    expect(removeA2()).toBe(false);
    expect(q.size).toBe(4);
    expect(serve(q, 4)).toEqual(["a0", "b1", "c0", "a1"]);
  });

  test("takeFor() honours accepts (pinned waiters) and the eligibility of keys", () => {
    const q = new WaitQueue<string>();
    q.push(waiter("pinned", "a", (w) => w === "w2"));
    q.push(waiter("a-any", "a"));
    q.push(waiter("blocked", "z"));
    expect(tagOf(q.takeFor("w1", (x) => x.key !== "z"))).toBe("a-any");
    expect(q.takeFor("w1", (x) => x.key !== "z")).toBeUndefined();
    expect(tagOf(q.takeFor("w2"))).toBe("blocked");
    expect(tagOf(q.takeFor("w2"))).toBe("pinned");
  });

  test("peek() and take(), firstWhere(), removeWhere() and drain() see every key", () => {
    const q = new WaitQueue<string>();
    const a = waiter("a", "a");
    const b = waiter("b", "b");
    const c = waiter("c", "c");
    q.push(a);
    q.push(b);
    q.push(c);
    expect(q.peek(() => true)).toBe(a);
    expect(q.take(a)).toBe(true);
    expect(q.take(a)).toBe(false);
    expect(q.firstWhere((x) => x.key === "c")).toBe(c);
    expect(q.take(c)).toBe(true); // not the peeked one: found by identity
    q.push(waiter("d", "d"));
    expect(q.removeWhere((x) => x.key === "b").map(tagOf)).toEqual(["b"]);
    expect(q.drain().map(tagOf)).toEqual(["d"]);
    expect(q.size).toBe(0);
    expect(q.takeFor("w")).toBeUndefined();
  });
});

describe("dispatcher: fair order and cancelled calls still running", () => {
  test("a quick tool's queued call goes before a slow tool's backlog", async () => {
    await using pit = await inMemoryPool({ prefetch: 0 });
    const order: string[] = [];
    const run = (tool: string, args: Record<string, unknown>) => pit.pool.execute(tool, args).then(() => order.push(`${tool}`));
    const calls = [run("sleep", { ms: 50 })];
    for (let i = 0; i < 5; i++) calls.push(run("sleep", { ms: 50 }));
    await settle();
    calls.push(run("echo", { value: 1 }));
    await settle();
    expect(pit.pool.snapshot().queued).toBe(6);
    for (let i = 0; i < 8; i++) await pit.clock.advance(50);
    await Promise.all(calls);
    expect(order.indexOf("echo")).toBeLessThanOrEqual(2); // FIFO: it was last
  });

  test("while a tool has a cancelled call still running, its new calls wait; others use the free worker", async () => {
    await using pit = await inMemoryPool({ poolSize: 2, cancelGraceMs: 1_000 });
    const first = pit.pool.execute("hang", {}, { timeoutMs: 100 }).catch((e: unknown) => e);
    await pit.clock.advance(100);
    expect(((await first) as SnakepitError).code).toBe("deadline_exceeded");
    // The hang runs on as a zombie. A second hang may not take the other worker.
    const second = pit.pool.execute("hang", {}, { timeoutMs: 100 }).catch((e: unknown) => e);
    await settle();
    expect(pit.pool.snapshot().queued).toBe(1);
    expect(await pit.pool.execute("echo", { value: "served" }).then((r) => r.result)).toBe("served");
    await pit.clock.advance(100);
    const err = (await second) as SnakepitError;
    expect(err.code).toBe("deadline_exceeded");
    expect(err.details).toMatchObject({ reason: "cancelled_call_running", tool: "hang", zombieCalls: 1 });
    expect(err.message).toContain("ignores cancellation");
    expect(pit.pool.workers.filter((w) => w.health().zombieCalls > 0).length).toBe(1);
  });

  test("once the zombie is gone (its worker recycled), the tool's waiting call starts", async () => {
    await using pit = await inMemoryPool({ poolSize: 2, cancelGraceMs: 200 });
    void pit.pool.execute("hang", {}, { timeoutMs: 50 }).catch(() => {});
    await pit.clock.advance(50);
    const waiting = pit.pool.execute("sleep", { ms: 10 }, { timeoutMs: 5_000 });
    const blocked = pit.pool.execute("hang", {}, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    await settle();
    expect(pit.pool.snapshot().queued).toBe(1); // the sleep took the free worker, the hang waits
    for (let i = 0; i < 10; i++) await pit.clock.advance(50);
    await waiting;
    expect(pit.pool.snapshot().queued).toBe(0); // the zombie's worker was killed: the hang started
    for (let i = 0; i < 110; i++) await pit.clock.advance(50);
    expect(((await blocked) as SnakepitError).code).toBe("deadline_exceeded");
  });
});

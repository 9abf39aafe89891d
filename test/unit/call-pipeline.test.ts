// The call lifecycle on in-memory workers and fake time: requeue of never-started calls, streams
// with the same resilience as calls, stall timeout, per-tool deadlines. No Python, no sleeps.
import { describe, expect, test } from "bun:test";
import { SnakepitError } from "../../src/errors.ts";
import { settle } from "../fake-clock.ts";
import { inMemoryPool } from "../in-memory-pool.ts";

async function drain(gen: AsyncGenerator<unknown>): Promise<{ chunks: unknown[]; error?: SnakepitError }> {
  const chunks: unknown[] = [];
  try {
    for await (const c of gen) chunks.push(c);
    return { chunks };
  } catch (err) {
    return { chunks, error: err as SnakepitError };
  }
}

describe("Pool.execute() on in-memory workers", () => {
  test("runs a call and reports real queue and worker times", async () => {
    await using pit = await inMemoryPool({ prefetch: 0 });
    const stops: Array<{ queueMs: number; pythonMs: number }> = [];
    pit.bus.on("call.stop", (e) => stops.push(e));
    const first = pit.pool.execute("sleep", { ms: 40 });
    const second = pit.pool.execute("sleep", { ms: 10 }, { correlationId: "queued" });
    await pit.clock.advance(100);
    await expect(first).resolves.toMatchObject({ result: "slept" });
    await expect(second).resolves.toMatchObject({ result: "slept" });
    expect(stops).toHaveLength(2);
    expect(stops[1]!.queueMs).toBeGreaterThanOrEqual(40);
    expect(stops[1]!.pythonMs).toBeCloseTo(10, 0);
  });

  test("a call prefetched behind a cancelled call that ignores its cancel runs on another worker and succeeds", async () => {
    await using pit = await inMemoryPool({ prefetch: 4, prefetchMaxServiceMs: 1_000, cancelGraceMs: 2_000 });
    const abort = new AbortController();
    const stuck = pit.pool.execute("hang", {}, { signal: abort.signal });
    const behind = pit.pool.execute("echo", { value: "fine" }, { timeoutMs: 10_000 });
    const [w1] = pit.pool.workers;
    expect(w1!.inFlight).toBe(2); // the second call waits in the worker's pipe
    await settle(); // the first call is running
    abort.abort();
    await expect(stuck).rejects.toMatchObject({ code: "aborted" });
    await pit.clock.advance(1_999);
    expect(w1!.state).toBe("ready");
    await pit.clock.advance(1); // the cancel grace runs out: the worker is killed
    await settle(200);
    await expect(behind).resolves.toMatchObject({ result: "fine" });
    expect(w1!.state).toBe("crashed");
    expect(pit.pool.snapshot()).toMatchObject({ requeued: 1, failed: 1, completed: 1 });
  });

  test("a worker with a call past its cancel gets no new work, and a never-started call keeps its deadline", async () => {
    await using pit = await inMemoryPool({ prefetch: 4, prefetchMaxServiceMs: 1_000, cancelGraceMs: 2_000 });
    const abort = new AbortController();
    const stuck = pit.pool.execute("hang", {}, { signal: abort.signal }).catch((e) => e);
    await settle(); // running
    abort.abort();
    await settle();
    const [w1] = pit.pool.workers;
    const later = pit.pool.execute("echo", { value: 1 }, { timeoutMs: 500 });
    expect(w1!.inFlight).toBe(1); // not prefetched onto the worker with a zombie call
    expect(pit.pool.snapshot().queued).toBe(1);
    await pit.clock.advance(500);
    await expect(later).rejects.toMatchObject({ code: "deadline_exceeded" });
    expect((await stuck).code).toBe("aborted");
  });

  test("a tool's own deadline applies when the caller gives none", async () => {
    await using pit = await inMemoryPool();
    expect(pit.pool.tools.find((t) => t.name === "budgeted")?.timeoutMs).toBe(500);
    const own = pit.pool.execute("budgeted", {});
    await pit.clock.advance(500);
    await expect(own).rejects.toMatchObject({ code: "deadline_exceeded" });
    const longer = pit.pool.execute("budgeted", {}, { timeoutMs: 20_000 });
    let settled = false;
    longer.then(() => (settled = true), () => (settled = true));
    await pit.clock.advance(600);
    expect(settled).toBe(false);
    await pit.clock.advance(10_000);
    await expect(longer).resolves.toMatchObject({ result: "late" });
  });
});

describe("Pool.stream() on in-memory workers", () => {
  test("a stream crashing before its first chunk is retried when idempotent and completes once", async () => {
    await using pit = await inMemoryPool({ crashBarrier: { backoffMs: [10] } });
    const out = drain(pit.pool.stream("crashy", { n: 3, crashAt: 0, once: true, key: "idem" }, { idempotent: true }));
    await pit.clock.advance(1_000);
    expect(await out).toEqual({ chunks: [0, 1, 2] });
    expect(pit.pool.snapshot()).toMatchObject({ completed: 1, failed: 0, crashes: 1 });
  });

  test("a stream crashing before its first chunk fails with worker_crashed when not idempotent", async () => {
    await using pit = await inMemoryPool();
    const out = drain(pit.pool.stream("crashy", { n: 3, crashAt: 0, once: true, key: "plain" }));
    await pit.clock.advance(1_000);
    const { chunks, error } = await out;
    expect(chunks).toEqual([]);
    expect(error?.code).toBe("worker_crashed");
  });

  test("a stream crashing after chunks ends with worker_crashed, idempotent or not, and no chunk twice", async () => {
    await using pit = await inMemoryPool({ crashBarrier: { backoffMs: [10] } });
    const out = drain(pit.pool.stream("crashy", { n: 5, crashAt: 2, once: true, key: "late" }, { idempotent: true }));
    await pit.clock.advance(1_000);
    const { chunks, error } = await out;
    expect(chunks).toEqual([0, 1]);
    expect(error?.code).toBe("worker_crashed");
  });

  test("streams meet the breaker like calls: crashes never open it; open with no ready worker, both are refused", async () => {
    await using pit = await inMemoryPool({ circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } });
    for (const key of ["b1", "b2"]) {
      const out = drain(pit.pool.stream("crashy", { n: 3, crashAt: 0, key }));
      await pit.clock.advance(1_000);
      expect((await out).error?.code).toBe("worker_crashed");
    }
    expect(pit.pool.guard.breaker.state).toBe("closed"); // a crash says nothing against the adapter
    await pit.clock.advance(5_000);
    expect(pit.pool.workers.some((w) => w.state === "ready")).toBe(true);
    // The adapter cannot be started: the supervisor's failed replacements open the breaker.
    for (const worker of pit.workers.values()) void worker.kill("signal");
    await settle(10);
    for (let i = 0; i < 2; i++) pit.bus.emit("worker.restart_failed", { pool: pit.pool.name, worker: "", error: "boom", attempt: i });
    expect(pit.pool.guard.breaker.state).toBe("open");
    const refused = drain(pit.pool.stream("count", { n: 1 }));
    await pit.clock.advance(100);
    expect((await refused).error?.code).toBe("circuit_open");
    await expect(pit.pool.execute("echo", { value: 1 })).rejects.toMatchObject({ code: "circuit_open" });
  });

  test("a consumer that stops reading past the stall timeout gets its stream cancelled and the worker freed", async () => {
    await using pit = await inMemoryPool({ streamStallTimeoutMs: 200 });
    const stream = pit.pool.stream("count", { n: 100, ms: 1 });
    const first = stream.next();
    await pit.clock.advance(5);
    expect(await first).toEqual({ value: 0, done: false });
    expect(pit.pool.workers[0]!.inFlight).toBe(1);
    await pit.clock.advance(200); // the consumer reads nothing
    await settle(100);
    expect(pit.pool.workers[0]!.inFlight).toBe(0);
    await expect(stream.next()).rejects.toMatchObject({ code: "deadline_exceeded" });
    expect(pit.pool.snapshot()).toMatchObject({ failed: 1 });
    expect(pit.pool.execute("echo", { value: 2 })).resolves.toMatchObject({ result: 2 });
  });

  test("a stream reports real queue and worker times", async () => {
    await using pit = await inMemoryPool();
    const stops: Array<{ queueMs: number; pythonMs: number }> = [];
    pit.bus.on("call.stop", (e) => stops.push(e));
    const busy = pit.pool.execute("sleep", { ms: 30 });
    const out = drain(pit.pool.stream("count", { n: 3, ms: 10 }));
    await pit.clock.advance(200);
    await busy;
    expect(await out).toEqual({ chunks: [0, 1, 2] });
    expect(stops[1]!.queueMs).toBeGreaterThanOrEqual(30);
    expect(stops[1]!.pythonMs).toBeGreaterThanOrEqual(30);
  });
});

describe("Pool.drain() / resume()", () => {
  test("a drained pool refuses new calls and streams, finishes the running ones, and takes calls again when resumed", async () => {
    await using pit = await inMemoryPool();
    const events: string[] = [];
    pit.bus.on("pool.draining", () => events.push("draining"));
    pit.bus.on("pool.resumed", () => events.push("resumed"));
    const running = pit.pool.execute("sleep", { ms: 50 });
    await pit.clock.advance(1);
    pit.pool.drain();
    expect(pit.pool.isDraining).toBe(true);
    await expect(pit.pool.execute("echo", { value: 1 })).rejects.toMatchObject({ code: "worker_unavailable", details: { draining: true } });
    const refused = drain(pit.pool.stream("count", { n: 1 }));
    expect((await refused).error?.code).toBe("worker_unavailable");
    await pit.clock.advance(60);
    expect(await running).toMatchObject({ result: "slept" });
    pit.pool.resume();
    expect(pit.pool.execute("echo", { value: 2 })).resolves.toMatchObject({ result: 2 });
    expect(events).toEqual(["draining", "resumed"]);
  });
});

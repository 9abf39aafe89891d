// One call pipeline with real Python: streams get the resilience calls get; never-started calls
// run elsewhere; the handshake checks the protocol version; batches; tool deadlines.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROTOCOL_VERSION, Snakepit, SnakepitError } from "../../src/mod.ts";
import { fixture, PYTHON, waitUntil } from "../helpers.ts";

const STREAMS = fixture("stream_faults.py");

async function collect(gen: AsyncGenerator<unknown>): Promise<{ chunks: unknown[]; error?: SnakepitError }> {
  const chunks: unknown[] = [];
  try {
    for await (const c of gen) chunks.push(c);
    return { chunks };
  } catch (err) {
    return { chunks, error: err as SnakepitError };
  }
}

function markerPath(): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "snakepit-marker-"));
  return { path: join(dir, "m"), done: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("Snakepit.stream() resilience", () => {
  test("a worker SIGKILLed before an idempotent stream's first chunk: the stream completes once, elsewhere", async () => {
    await using pit = await Snakepit.start({ adapter: STREAMS, poolSize: 2, python: PYTHON, crashBarrier: { backoffMs: [50] } });
    const m = markerPath();
    const out = collect(pit.stream("gated", { marker: m.path, n: 3 }, { idempotent: true }));
    expect(await waitUntil(() => existsSync(m.path) && pit.stats().inFlight === 1, 10_000)).toBe(true);
    const busy = pit.listWorkers().find((w) => w.inFlight === 1)!;
    process.kill(busy.pid, "SIGKILL");
    expect(await out).toEqual({ chunks: [0, 1, 2] });
    expect(pit.stats()).toMatchObject({ completed: 1, failed: 0 });
    m.done();
  });

  test("a worker SIGKILLed before a plain stream's first chunk: worker_crashed", async () => {
    await using pit = await Snakepit.start({ adapter: STREAMS, poolSize: 1, python: PYTHON });
    const m = markerPath();
    const out = collect(pit.stream("gated", { marker: m.path, n: 3 }));
    expect(await waitUntil(() => existsSync(m.path), 10_000)).toBe(true);
    process.kill(pit.listWorkers()[0]!.pid, "SIGKILL");
    const { chunks, error } = await out;
    expect(chunks).toEqual([]);
    expect(error).toMatchObject({ code: "worker_crashed" });
    m.done();
  });

  test("a worker SIGKILLed after some chunks ends even an idempotent stream with worker_crashed, no chunk twice", async () => {
    await using pit = await Snakepit.start({ adapter: STREAMS, poolSize: 2, python: PYTHON });
    const chunks: unknown[] = [];
    let error: SnakepitError | undefined;
    try {
      for await (const c of pit.stream("ticks", { n: 1_000, delay_ms: 20 }, { idempotent: true })) {
        chunks.push(c);
        if (chunks.length === 3) process.kill(pit.listWorkers().find((w) => w.inFlight === 1)!.pid, "SIGKILL");
      }
    } catch (err) {
      error = err as SnakepitError;
    }
    expect(error).toMatchObject({ code: "worker_crashed" });
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(chunks).toEqual(chunks.map((_, i) => i)); // in order, none repeated
  });

  test("streams meet the breaker like calls: crashes never open it; a broken adapter refuses them with circuit_open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "snakepit-stream-breaker-"));
    const marker = join(dir, "broken");
    try {
      await using pit = await Snakepit.start({
        adapter: fixture("broken_start.py"), poolSize: 1, python: PYTHON, env: { BROKEN_START_MARKER: marker },
        circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 },
      });
      expect((await collect(pit.stream("ticks", { n: 2 }))).chunks).toEqual([0, 1]);
      writeFileSync(marker, ""); // from now on, a new worker cannot start
      await pit.execute("crash").catch(() => {});
      expect(await waitUntil(() => pit.health().pools[0]!.circuit === "open", 15_000)).toBe(true);
      expect((await collect(pit.stream("ticks", { n: 1 }))).error).toMatchObject({ code: "circuit_open" });
      rmSync(marker);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("stream crashes never open the breaker (a crash says nothing against the adapter)", async () => {
    await using pit = await Snakepit.start({ adapter: STREAMS, poolSize: 2, python: PYTHON, circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await collect(pit.stream("die_first"))).error).toMatchObject({ code: "worker_crashed" });
    expect(pit.health().pools[0]!.circuit).toBe("closed");
    expect((await collect(pit.stream("ticks", { n: 1 }))).chunks).toEqual([0]);
  });

  test("a stream's stats carry real queue and Python times", async () => {
    await using pit = await Snakepit.start({ adapter: STREAMS, poolSize: 1, python: PYTHON, prefetch: 0 });
    const stops: Array<{ tool: string; queueMs: number; pythonMs: number }> = [];
    pit.on("call.stop", (e) => stops.push(e));
    const first = collect(pit.stream("ticks", { n: 3, delay_ms: 50 }));
    const second = collect(pit.stream("ticks", { n: 2, delay_ms: 50 }));
    await Promise.all([first, second]);
    expect(stops).toHaveLength(2);
    expect(stops[1]!.queueMs).toBeGreaterThan(80);
    expect(stops[0]!.pythonMs).toBeGreaterThan(120);
    expect(pit.stats()).toMatchObject({ completed: 2, failed: 0 });
  });

  test("a stream in a session counts for the session like a call", async () => {
    await using pit = await Snakepit.start({ adapter: STREAMS, poolSize: 1, python: PYTHON });
    const s = pit.session("streamer");
    expect((await collect(s.stream("ticks", { n: 2, delay_ms: 1 }))).chunks).toEqual([0, 1]);
    await s.execute("pid");
    expect(s.stats()).toMatchObject({ calls: 2, errors: 0, inFlight: 0 });
  });
});

describe("stream stall timeout", () => {
  test("a consumer that stops reading gets its stream cancelled and the worker freed", async () => {
    await using pit = await Snakepit.start({ adapter: STREAMS, poolSize: 1, python: PYTHON, streamStallTimeoutMs: 300 });
    const stream = pit.stream("ticks", { n: 100_000, delay_ms: 2 });
    expect(await stream.next()).toEqual({ value: 0, done: false });
    expect(pit.stats().inFlight).toBe(1);
    expect(await waitUntil(() => pit.stats().inFlight === 0, 10_000)).toBe(true); // cancelled in Python, slot freed
    await expect(stream.next()).rejects.toMatchObject({ code: "deadline_exceeded" });
    expect(await pit.execute("pid")).toBe(pit.listWorkers()[0]!.pid); // the same worker serves again
  });
});

describe("never-started calls", () => {
  test("a call queued behind a cancelled call that ignores its cancel succeeds", async () => {
    await using pit = await Snakepit.start({
      adapter: fixture("hang.py"), poolSize: 1, python: PYTHON, prefetch: 4, prefetchMaxServiceMs: 60_000, cancelGraceMs: 300,
    });
    const abort = new AbortController();
    const stuck = pit.execute("hang", { seconds: 60 }, { signal: abort.signal });
    const behind = pit.execute("quick", {}, { timeoutMs: 20_000 });
    expect(pit.stats().inFlight).toBe(2); // held in the worker's pipe behind the stuck call
    await Bun.sleep(100); // let Python start the stuck call
    abort.abort();
    await expect(stuck).rejects.toMatchObject({ code: "aborted" });
    expect(await behind).toBe("ok");
    expect(pit.stats().pools.default).toMatchObject({ requeued: 1 });
  });
});

describe("the handshake", () => {
  test("refuses a worker speaking another protocol version, naming both", async () => {
    const err = await Snakepit.start({ adapter: fixture("old_protocol.py"), poolSize: 1, python: PYTHON }).catch((e) => e);
    expect(err).toMatchObject({ code: "worker_spawn_failed" });
    expect(err.message).toMatch(new RegExp(`protocol version 0, this host speaks version ${PROTOCOL_VERSION}`));
  });
});

describe("Snakepit.executeBatch()", () => {
  test("returns a result or a typed error per item, in order, at the given concurrency", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("faults.py"), poolSize: 2, python: PYTHON });
    const out = await pit.executeBatch([
      { tool: "echo", args: { value: 1 } },
      { tool: "nope" },
      { tool: "slow", args: { ms: 30 } },
      { tool: "echo", args: { value: "last" } },
    ], { concurrency: 2 });
    expect(out.map((r) => (r.ok ? r.value : r.error.code))).toEqual([1, "tool_not_found", 30, "last"]);
    await expect(pit.executeBatch([], { concurrency: 0 })).rejects.toMatchObject({ code: "invalid_argument" });
  });
});

// Regressions found in review: each test drives the real pool into one edge it once got wrong.
import { describe, expect, test } from "bun:test";
import { Snakepit, SnakepitError } from "../../src/mod.ts";
import { failure, fixture, PYTHON, waitUntil } from "../helpers.ts";

const FAULTS = fixture("faults.py");

describe("robustness", () => {
  test("arguments that cannot be encoded are invalid_argument and leak no slot", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const err = await failure(pit.execute("echo", { value: cyclic }));
    expect(err).toMatchObject({ code: "invalid_argument", details: { field: "args" } });
    expect(pit.stats().inFlight).toBe(0);
    expect(await pit.execute("echo", { value: 1 })).toBe(1);
  });

  test("Map and Set arguments arrive as an object and a list", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON });
    expect(await pit.execute("echo", { value: { m: new Map([["k", 1]]), s: new Set([1, 2]) } })).toEqual({ m: { k: 1 }, s: [1, 2] });
  });

  test("an NDArray whose shape does not fit its data is refused on the host, naming the problem", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON });
    const err = await failure(pit.execute("echo", { value: { dtype: "float32", shape: [3, 3], data: new Float32Array(2) } }));
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toContain("needs 36 bytes of data, got 8");
    expect(await pit.execute("pid")).toBeGreaterThan(0);
  });

  test("cancelling a call still queued in the worker answers it at once; the running call is unharmed", async () => {
    // prefetchMaxServiceMs high: the second call is surely held in the worker, behind the first.
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, cancelGraceMs: 1_000, prefetchMaxServiceMs: 10_000 });
    const pid = await pit.execute<number>("pid");
    const long = pit.execute("slow", { ms: 1_500 });
    const queued = pit.execute("pid", {}, { timeoutMs: 200 });
    expect(pit.stats()).toMatchObject({ inFlight: 2, queued: 0 });
    await expect(queued).rejects.toMatchObject({ code: "deadline_exceeded" });
    expect(await long).toBe(1_500);
    expect(await pit.execute("pid")).toBe(pid); // not recycled
  });

  test("sys.exit() in a tool fails that call only", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, workerProfile: "thread", threadsPerWorker: 2 });
    const pid = await pit.execute<number>("pid");
    for (let i = 0; i < 4; i++) {
      const err = await failure(pit.execute("exit_tool"));
      expect(err).toMatchObject({ code: "python_exception", python: { type: "SystemExit" } });
    }
    expect(await pit.execute("pid", {}, { timeoutMs: 2_000 })).toBe(pid);
  });

  test("a host tool's error code does not make the pool retry a tool that ran", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON });
    pit.tools.register("busy_backend", {
      handler: () => {
        throw new SnakepitError("pool_saturated", "the backend is full");
      },
    });
    const err = await failure(pit.execute("call_host", { name: "busy_backend" }));
    expect(err).toMatchObject({ code: "python_exception", python: { type: "HostToolError" }, details: { hostCode: "pool_saturated" } });
    expect(await pit.execute("host_calls")).toBe(1);
  });

  test("a crash gives every in-flight caller its own error (its own tool and correlation id)", async () => {
    // Two calls running at once on one worker (a call only queued in its pipe would run elsewhere).
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, workerProfile: "thread", threadsPerWorker: 2 });
    const a = pit.execute("slow", { ms: 500 }, { correlationId: "call-a" });
    const b = pit.execute("slow", { ms: 600 }, { correlationId: "call-b" });
    expect(pit.stats().inFlight).toBe(2); // both on the one worker
    await Bun.sleep(50);
    process.kill(pit.listWorkers()[0]!.pid, "SIGKILL");
    const [ea, eb] = await Promise.all([failure(a), failure(b)]);
    expect(ea).not.toBe(eb);
    expect(ea.details).toMatchObject({ tool: "slow", correlationId: "call-a" });
    expect(eb.details).toMatchObject({ tool: "slow", correlationId: "call-b" });
  });

  test("a worker that crashes while being recycled is not replaced twice", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, reconcileIntervalMs: 50 });
    const [old] = pit.listWorkers();
    const running = pit.execute("slow", { ms: 1_000 }).catch(() => {});
    const recycling = pit.recycleWorker(old!.id);
    await waitUntil(() => pit.listWorkers().length === 2, 5_000);
    process.kill(old!.pid, "SIGKILL");
    await recycling;
    await running;
    await Bun.sleep(300);
    expect(pit.listWorkers().filter((w) => w.state === "ready")).toHaveLength(1);
  });

  test("a call retrying when the pool closes fails at once with pool_closed", async () => {
    const pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, maxQueue: 0, prefetch: 0, retry: { backoffMs: [200] } });
    const busy = pit.execute("slow", { ms: 100 }).catch(() => {});
    const saturated = pit.execute("pid"); // pool_saturated, then retried after 200 ms
    await Bun.sleep(20);
    const t0 = performance.now();
    await pit.close();
    await expect(saturated).rejects.toMatchObject({ code: "pool_closed" });
    expect(performance.now() - t0).toBeLessThan(1_000);
    await busy;
  });
});

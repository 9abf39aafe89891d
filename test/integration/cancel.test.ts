import { describe, expect, test } from "bun:test";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON } from "../helpers.ts";

describe("Snakepit.execute() timeouts and aborts", () => {
  test("a call past its timeout rejects with deadline_exceeded and Python stops it", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON });
    const t0 = performance.now();
    const err = await failure(pit.execute("spin", { ms: 10_000 }, { timeoutMs: 300 }));
    expect(err.code).toBe("deadline_exceeded");
    expect(performance.now() - t0).toBeLessThan(2_000);
    // The worker is free again (Python saw the deadline) well before the 10 s spin would end.
    expect(await pit.execute("echo", { value: 1 }, { timeoutMs: 2_000 })).toBe(1);
  });

  test("aborting a running call reaches Python: the tool sees the cancel flag", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON });
    const pid = await pit.execute("pid");
    const ac = new AbortController();
    const running = pit.execute("spin", { ms: 10_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(running).rejects.toMatchObject({ code: "aborted" });
    // Same worker, free again: the tool stopped cooperatively, no recycle.
    expect(await pit.execute("pid", {}, { timeoutMs: 2_000 })).toBe(pid);
  });

  test("aborting a queued call removes it from the queue", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("hang.py"), poolSize: 1, python: PYTHON, prefetch: 0, cancelGraceMs: 200 });
    const busy = pit.execute("hang", { seconds: 1 });
    const ac = new AbortController();
    const queued = pit.execute("quick", {}, { signal: ac.signal });
    expect(pit.stats().queued).toBe(1);
    ac.abort(new Error("changed my mind"));
    await expect(queued).rejects.toMatchObject({ code: "aborted", message: "changed my mind" });
    expect(pit.stats().queued).toBe(0);
    expect(await busy).toBe("woke");
  });

  test("an abort signal that already fired rejects at once with aborted", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("hang.py"), poolSize: 1, python: PYTHON });
    await expect(pit.execute("quick", {}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "aborted" });
  });

  test("a hung tool that ignores its cancel is recycled after the grace period", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("hang.py"), poolSize: 1, python: PYTHON, cancelGraceMs: 300 });
    const before = pit.listWorkers()[0]!.pid;
    const exited = new Promise((resolve) => pit.on("worker.exited", resolve));
    await expect(pit.execute("hang", {}, { timeoutMs: 200 })).rejects.toMatchObject({ code: "deadline_exceeded" });
    await exited;
    expect(await pit.execute("quick", {}, { timeoutMs: 5_000 })).toBe("ok");
    expect(pit.listWorkers()[0]!.pid).not.toBe(before);
  });

  test("the queue timeout rejects with queue_timeout", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("hang.py"), poolSize: 1, python: PYTHON, queueTimeoutMs: 100, prefetch: 0 });
    void pit.execute("hang", { seconds: 1 }).catch(() => {});
    await expect(pit.execute("quick")).rejects.toMatchObject({ code: "queue_timeout" });
  });

  test("a full queue rejects with pool_saturated", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("hang.py"), poolSize: 1, python: PYTHON, maxQueue: 2, prefetch: 0, retry: { enabled: false } });
    const calls = [pit.execute("hang", { seconds: 0.3 }), pit.execute("quick"), pit.execute("quick")];
    await expect(pit.execute("quick")).rejects.toMatchObject({ code: "pool_saturated" });
    expect(await Promise.all(calls)).toEqual(["woke", "ok", "ok"]);
  });

  test("close() fails queued calls with pool_closed and lets running ones finish", async () => {
    const pit = await Snakepit.start({ adapter: fixture("hang.py"), poolSize: 1, python: PYTHON, prefetch: 0 });
    const running = pit.execute("hang", { seconds: 0.3 });
    const queued = pit.execute("quick");
    const closing = pit.close();
    await expect(queued).rejects.toMatchObject({ code: "pool_closed" });
    expect(await running).toBe("woke");
    await closing;
    await expect(pit.execute("quick")).rejects.toMatchObject({ code: "pool_closed" });
    await pit.close(); // idempotent
  });
});

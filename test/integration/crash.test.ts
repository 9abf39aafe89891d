import { describe, expect, test } from "bun:test";
import { Snakepit } from "../../src/mod.ts";
import { byNumber, failure, fixture, isAlive, pidsOfRun, processesOf, PYTHON, waitUntil } from "../helpers.ts";

describe("worker crashes", () => {
  test("a worker dying mid-call fails that call with worker_crashed and is replaced", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 2, python: PYTHON });
    const pidsBefore = pit.listWorkers().map((w) => w.pid);
    const replaced = new Promise((resolve) => pit.on("worker.started", resolve));
    const other = pit.execute("spin", { ms: 300 });
    const err = await failure(pit.execute("crash", { code: 7 }));
    expect(err).toMatchObject({ code: "worker_crashed", details: { exitCode: 7 } });
    expect(err.message).toContain("exited with code 7");
    expect(await other).toBe("done");
    await replaced;
    const pidsAfter = pit.listWorkers().map((w) => w.pid);
    expect(pidsAfter).toHaveLength(2);
    expect(pidsAfter.filter((p) => !pidsBefore.includes(p))).toHaveLength(1);
    expect(await pit.execute("echo", { value: "alive" })).toBe("alive");
    expect(pit.stats().pools.default!.crashes).toBe(1);
  });

  test("a worker killed by a signal reports the signal", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("hang.py"), poolSize: 1, python: PYTHON });
    const call = pit.execute("hang", { seconds: 30 });
    const pid = pit.listWorkers()[0]!.pid;
    setTimeout(() => process.kill(pid, "SIGKILL"), 50);
    await expect(call).rejects.toMatchObject({ code: "worker_crashed", details: { signal: "SIGKILL" } });
  });

  test("an adapter that fails to import: start fails with its error and leaves no process", async () => {
    const err = await failure(Snakepit.start({ adapter: fixture("crash_on_start.py"), poolSize: 2, python: PYTHON }));
    expect(err.code).toBe("worker_spawn_failed");
    expect(err.message).toContain("exited with code 1 before it was ready");
    expect(err.message).toContain("model file weights.bin is missing");
    expect(err.message).toContain("loading the model...");
  });

  test("a slow setup() is waited for (handshake, no sleeps)", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("slow_ready.py:Slow"), poolSize: 2, python: PYTHON, env: { SLOW_READY_S: "0.4" } });
    expect(await pit.execute("ping")).toBe("pong");
  });

  test("a worker not ready within startupTimeoutMs fails the start and is killed", async () => {
    const err = await failure(Snakepit.start({
      adapter: fixture("slow_ready.py:Slow"), poolSize: 1, python: PYTHON, env: { SLOW_READY_S: "30" }, startupTimeoutMs: 300,
    }));
    expect(err.code).toBe("worker_spawn_failed");
    expect(err.message).toContain("not ready within 300 ms");
  });

  test("a missing interpreter is worker_spawn_failed naming it", async () => {
    const err = await failure(Snakepit.start({ adapter: fixture("echo.py"), python: "/nonexistent/python3" }));
    expect(err.code).toBe("worker_spawn_failed");
    expect(err.message).toContain("/nonexistent/python3");
  });

  test("an adapter file that does not exist fails with a clear message", async () => {
    const err = await failure(Snakepit.start({ adapter: "/nonexistent/adapter.py", python: PYTHON, poolSize: 1 }));
    expect(err.code).toBe("config_invalid"); // checked by the host before any Python starts
    expect(err.message).toContain("adapter file not found: /nonexistent/adapter.py");
  });

  test("invalid config is config_invalid naming each field", async () => {
    const err = await failure(Snakepit.start({ adapter: "", poolSize: 0 }));
    expect(err.code).toBe("config_invalid");
    expect(err.message).toContain("adapter");
    expect(err.message).toContain("poolSize");
    // @ts-expect-error: unknown option
    const typo = await failure(Snakepit.start({ adapter: "x.py", poolSzie: 2 }));
    expect(typo.code).toBe("config_invalid");
    expect(typo.message).toContain("poolSzie");
  });
});

describe("stdout noise", () => {
  test("prints from tools become log lines and never disturb the protocol", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON });
    const lines: string[] = [];
    pit.on("worker.log", (e) => lines.push(e.line));
    expect(await pit.execute("noisy", { n: 50 })).toBe("still fine");
    expect(await pit.execute("echo", { value: [1, 2] })).toEqual([1, 2]);
    await waitUntil(() => lines.some((l) => l.includes("raw bytes on fd 1")), 2_000);
    expect(lines).toContain("noise to stdout 49");
    expect(lines).toContain("noise to stderr 49");
    expect(lines).toContain("raw bytes on fd 1");
  });
});

describe("process hygiene", () => {
  test("close() leaves no Python process, grandchildren included", async () => {
    const pit = await Snakepit.start({ adapter: fixture("spawns_child.py"), poolSize: 2, python: PYTHON });
    const grandchild = await pit.execute<number>("start_child");
    expect(pit.listWorkers()).toHaveLength(2);
    expect(pidsOfRun(pit.runId).sort(byNumber)).toEqual(processesOf(pit)); // the workers, and their template if forked
    await pit.close();
    expect(pidsOfRun(pit.runId)).toEqual([]);
    expect(await waitUntil(() => !isAlive(grandchild), 2_000)).toBe(true);
  });

  test("close() SIGKILLs a worker that ignores the polite stop and SIGTERM", async () => {
    const pit = await Snakepit.start({ adapter: fixture("ignore_sigterm.py:Stubborn"), poolSize: 1, python: PYTHON });
    const t0 = performance.now();
    await pit.close({ graceMs: 100 });
    expect(pidsOfRun(pit.runId)).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(3_000);
  });

  test("await using closes the pool at the end of the block", async () => {
    let runId = "";
    {
      await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON });
      runId = pit.runId;
      expect(pit.listWorkers()).toHaveLength(1);
      expect(pidsOfRun(runId).sort(byNumber)).toEqual(processesOf(pit));
    }
    expect(pidsOfRun(runId)).toEqual([]);
  });

  test("runScript() closes even when the function throws", async () => {
    let runId = "";
    const err = await failure(Snakepit.runScript(async (pit) => {
      runId = pit.runId;
      throw new Error("script failed");
    }, { adapter: fixture("echo.py"), poolSize: 1, python: PYTHON }));
    expect(err.message).toBe("script failed");
    expect(pidsOfRun(runId)).toEqual([]);
  });

  for (const signal of ["SIGKILL", "SIGTERM", "SIGINT"] as const) {
    test(`a host killed with ${signal} leaves no Python process within 2 s`, async () => {
      const host = Bun.spawn([process.execPath, new URL("../fixtures/host.ts", import.meta.url).pathname, fixture("spawns_child.py"), PYTHON, "2"], {
        stdout: "pipe",
        stderr: "inherit",
      });
      const reader = host.stdout.getReader();
      const { value } = await reader.read();
      const info = JSON.parse(new TextDecoder().decode(value)) as { runId: string; pids: number[]; grandchild: number };
      const before = pidsOfRun(info.runId).sort(byNumber);
      host.kill(signal);
      await host.exited;
      expect(before).toEqual(info.pids); // 2 workers, and their template if forked
      const t0 = performance.now();
      expect(await waitUntil(() => pidsOfRun(info.runId).length === 0 && !isAlive(info.grandchild), 2_000)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(2_000);
    });
  }
});

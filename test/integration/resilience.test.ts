import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Snakepit } from "../../src/mod.ts";
import { byNumber, failure, fixture, isAlive, pidsOfRun, processesOf, PYTHON, waitUntil } from "../helpers.ts";

const FAULTS = fixture("faults.py");
const tmp = () => mkdtempSync(join(tmpdir(), "snakepit-res-"));

describe("heartbeats", () => {
  test("a SIGSTOPped worker misses its heartbeats and is killed and replaced", async () => {
    await using pit = await Snakepit.start({
      adapter: FAULTS, poolSize: 1, python: PYTHON, heartbeat: { intervalMs: 100, timeoutMs: 200, maxMissed: 2 },
    });
    const [w] = pit.listWorkers();
    const exited = new Promise<{ crash?: { kind: string } | undefined }>((r) => pit.on("worker.exited", r));
    const call = pit.execute("slow", { ms: 50 });
    process.kill(w!.pid, "SIGSTOP");
    const err = await failure(call);
    expect(err).toMatchObject({ code: "worker_crashed", details: { crash: "heartbeat_timeout" } });
    expect((await exited).crash?.kind).toBe("heartbeat_timeout");
    expect(await waitUntil(() => pit.listWorkers().some((x) => x.state === "ready" && x.pid !== w!.pid), 3_000)).toBe(true);
    expect(await pit.execute("slow", { ms: 1 })).toBe(1);
    expect(isAlive(w!.pid)).toBe(false);
  });

  test("a worker exits by itself when its host goes silent (watchdog)", async () => {
    const proc = Bun.spawn([PYTHON, "-m", "snakepit_bridge", "--adapter", FAULTS, "--host-timeout-ms", "300"], {
      env: { ...process.env, PYTHONPATH: new URL("../../python", import.meta.url).pathname },
      stdin: "pipe", stdout: "pipe", stderr: "pipe",
    });
    const t0 = performance.now();
    await proc.exited; // stdin stays open: only the watchdog can end it
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(await new Response(proc.stderr).text()).toContain("no word from the host");
  });
});

describe("supervision", () => {
  test("a crash storm pauses replacements instead of spinning", async () => {
    await using pit = await Snakepit.start({
      adapter: FAULTS, poolSize: 1, python: PYTHON, env: { DIE_AFTER_READY_S: "0.05" }, maxRestarts: 3, restartWindowMs: 5_000,
    });
    const storms: unknown[] = [];
    let starts = 0;
    pit.on("pool.restart_storm", (e) => storms.push(e));
    pit.on("worker.started", () => starts++);
    await waitUntil(() => storms.length > 0, 5_000);
    await Bun.sleep(500);
    expect(storms.length).toBeGreaterThanOrEqual(1);
    expect(starts).toBeLessThanOrEqual(3);
    expect(pit.health().pools[0]!.recentCrashes).toBeGreaterThanOrEqual(3);
  });

  test("the pool reconciles back to its size", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 3, python: PYTHON, reconcileIntervalMs: 100 });
    for (const w of pit.listWorkers()) process.kill(w.pid, "SIGKILL");
    expect(await waitUntil(() => pit.listWorkers().filter((w) => w.state === "ready").length === 3, 5_000)).toBe(true);
  });
});

describe("crash barrier", () => {
  test("an idempotent call whose worker crashes is retried on another worker", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 2, python: PYTHON });
    const retries: unknown[] = [];
    pit.on("call.retry", (e) => retries.push(e));
    const marker = join(tmp(), "crashed");
    expect(await pit.execute("crash_once", { marker }, { idempotent: true })).toBe("ok");
    expect(retries).toEqual([expect.objectContaining({ reason: "crash", code: "worker_crashed", attempt: 1 })]);
  });

  test("a call that is not idempotent fails with worker_crashed and the crash details", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 2, python: PYTHON });
    const err = await failure(pit.execute("crash_once", { marker: join(tmp(), "crashed") }));
    expect(err).toMatchObject({ code: "worker_crashed", details: { exitCode: 5, crash: "exit", tool: "crash_once" } });
  });

  test("an idempotency key also marks a call idempotent and reaches Python", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 2, python: PYTHON });
    expect(await pit.execute("crash_once", { marker: join(tmp(), "m") }, { idempotencyKey: "req-1" })).toBe("ok");
  });

  test("a crashed worker's device is tainted and its replacement gets another", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 2, python: PYTHON, devices: ["cuda:0", "cuda:1"] });
    const devices = pit.listWorkers().map((w) => w.device).sort();
    expect(devices).toEqual(["cuda:0", "cuda:1"]);
    const victim = pit.listWorkers().find((w) => w.device === "cuda:0")!;
    const tainted = new Promise((r) => pit.on("device.tainted", r));
    const started = new Promise((r) => pit.on("worker.started", r));
    process.kill(victim.pid, "SIGKILL");
    expect(await tainted).toMatchObject({ device: "cuda:0" });
    await started;
    expect(pit.listWorkers().map((w) => w.device)).toEqual(["cuda:1", "cuda:1"]);
    const seen = new Set(await Promise.all([1, 2, 3, 4].map(() => pit.execute("device"))));
    expect([...seen]).toEqual(["cuda:1"]);
  });
});

describe("retry policy and circuit breaker on the execute path", () => {
  test("pool_saturated is retried with backoff until a worker frees", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, maxQueue: 0, prefetch: 0 });
    const retries: unknown[] = [];
    pit.on("call.retry", (e) => retries.push(e));
    const busy = pit.execute("slow", { ms: 150 });
    expect(await pit.execute("slow", { ms: 1 })).toBe(1);
    await busy;
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatchObject({ reason: "policy", code: "pool_saturated" });
  });

  test("tool errors (python_exception, invalid_argument) do not open the breaker", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, circuitBreaker: { failureThreshold: 2 } });
    for (let i = 0; i < 5; i++) await failure(pit.execute("raise_error", { kind: "ValueError" }));
    for (let i = 0; i < 5; i++) await failure(pit.execute("slow", { ms: "x" }));
    expect(await pit.execute("slow", { ms: 1 })).toBe(1);
  });
});

describe("health monitor", () => {
  test("too many crashes make the pool unhealthy until replacements make it whole again", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 2, python: PYTHON, health: { maxCrashes: 2, crashWindowMs: 60_000 } });
    const events: Array<{ healthy: boolean }> = [];
    pit.on("pool.health", (e) => events.push(e));
    for (let i = 0; i < 2; i++) {
      const started = new Promise((r) => pit.on("worker.started", r));
      await failure(pit.execute("crash"));
      await started;
    }
    expect(events).toEqual([expect.objectContaining({ healthy: false, recentCrashes: 2 })]);
    await waitUntil(() => pit.listWorkers().filter((w) => w.state === "ready").length === 2, 5_000);
    expect(pit.health()).toMatchObject({ ready: true, pools: [{ healthy: true, recentCrashes: 2 }] });
  });
});

describe("lifecycle recycling", () => {
  test("on max requests: the worker is replaced and no call fails", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, lifecycle: { workerMaxRequests: 5 } });
    const recycled: Array<{ reason: string }> = [];
    pit.on("worker.recycled", (e) => recycled.push(e));
    const pids = new Set<number>();
    for (let i = 0; i < 12; i++) pids.add(await pit.execute<number>("pid"));
    await waitUntil(() => recycled.length >= 2, 3_000);
    expect(pids.size).toBeGreaterThanOrEqual(2);
    expect(recycled[0]!.reason).toBe("max_requests");
    expect(pit.stats().failed).toBe(0);
  });

  test("on TTL", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, lifecycle: { workerTtlMs: 200, checkIntervalMs: 50 } });
    const recycled = new Promise<{ reason: string }>((r) => pit.on("worker.recycled", r));
    expect((await recycled).reason).toBe("ttl");
  });

  test("on the Python process's RSS: a leaking tool's worker is replaced and no call fails", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 2, python: PYTHON, lifecycle: { memoryThresholdMb: 120, checkIntervalMs: 50 } });
    const recycled: Array<{ reason: string; worker: string }> = [];
    pit.on("worker.recycled", (e) => recycled.push(e));
    const errors: unknown[] = [];
    const t0 = performance.now();
    while (recycled.length === 0 && performance.now() - t0 < 10_000) {
      await Promise.all([pit.execute("leak", { mb: 20 }).catch((e) => errors.push(e)), pit.execute("pid").catch((e) => errors.push(e))]);
    }
    expect(recycled[0]?.reason).toBe("memory");
    expect(errors).toEqual([]);
    expect(pit.stats().failed).toBe(0);
  }, 30_000);

  test("manual recycle from the module", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON });
    const [w] = pit.listWorkers();
    const calls = Array.from({ length: 5 }, () => pit.execute("slow", { ms: 30 }));
    const fresh = await pit.recycleWorker(w!.id);
    expect(await Promise.all(calls)).toEqual([30, 30, 30, 30, 30]);
    expect(pit.listWorkers().map((x) => x.id)).toEqual([fresh]);
  });
});

describe("structured errors", () => {
  const kinds: Array<[string, string, Record<string, unknown>?]> = [
    ["ValueError", "ValueError"], ["KeyError", "KeyError"], ["IndexError", "IndexError"], ["TypeError", "TypeError"],
    ["AttributeError", "AttributeError"], ["ImportError", "ImportError"], ["RuntimeError", "RuntimeError"],
    ["NotImplementedError", "NotImplementedError"], ["FileNotFoundError", "FileNotFoundError"], ["PermissionError", "PermissionError"],
    ["ZeroDivisionError", "ZeroDivisionError"], ["JSONDecodeError", "ValueError"], ["Custom", "PythonException"],
    ["ShapeMismatch", "ShapeMismatch", { shapes: [[2, 3], [4, 5]] }],
    ["OutOfMemory", "OutOfMemory", { requested_bytes: 2 * 1024 ** 3, device: "GPU 0" }],
    ["DeviceMismatch", "DeviceMismatch", { devices: ["cuda:0", "cpu"] }],
  ];
  test("each Python exception maps to the seed's kind, with traceback and context", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON });
    for (const [raised, kind, details] of kinds) {
      const err = await failure(pit.execute("raise_error", { kind: raised }, { sessionId: "err-session" }));
      expect(err.code).toBe("python_exception");
      expect(err.python.kind).toBe(kind);
      expect(err.python.traceback).toContain("raise _ERRORS[kind]()");
      expect(err.details).toMatchObject({ tool: "raise_error", worker: "default-1", ...(details ?? {}) });
    }
    const oom = await failure(pit.execute("raise_error", { kind: "OutOfMemory" }));
    expect(oom.details.suggestions.length).toBeGreaterThan(0);
  });
});

describe("process registry", () => {
  test("a host SIGKILLed under load, then started again with the same instance: no old process remains; other live instances untouched", async () => {
    const stateDir = tmp();
    const host = (instance: string) => {
      const proc = Bun.spawn([process.execPath, new URL("../fixtures/registry-host.ts", import.meta.url).pathname, FAULTS, PYTHON, instance, stateDir], {
        stdout: "pipe", stderr: "inherit",
      });
      return { proc, info: (async () => JSON.parse(new TextDecoder().decode((await proc.stdout.getReader().read()).value)) as { runId: string; pids: number[] })() };
    };
    const other = host("inst");
    const otherName = host("different");
    const doomed = host("inst");
    let stopped: number[] = [];
    try {
      const [o, d, dn] = await Promise.all([other.info, doomed.info, otherName.info]);
      // Stopped workers (and a stopped template) cannot see their pipe close: only the registry can clean them up.
      stopped = d.pids;
      for (const pid of d.pids) process.kill(pid, "SIGSTOP");
      doomed.proc.kill("SIGKILL");
      await doomed.proc.exited;
      expect(pidsOfRun(d.runId).length).toBeGreaterThan(0);
      await using _pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, instance: "inst", stateDir });
      expect(pidsOfRun(d.runId)).toEqual([]);
      expect(pidsOfRun(o.runId).sort()).toEqual([...o.pids].sort());
      expect(pidsOfRun(dn.runId).sort()).toEqual([...dn.pids].sort());
    } finally {
      for (const h of [other, otherName, doomed]) h.proc.kill("SIGKILL");
      for (const pid of stopped) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  }, 30_000);

  test("cleanup() kills processes of this run that are neither live workers nor a pool's template", async () => {
    await using pit = await Snakepit.start({ adapter: FAULTS, poolSize: 1, python: PYTHON, stateDir: tmp() });
    const own = processesOf(pit); // the worker, and its template where workers are forked
    const stray = Bun.spawn([PYTHON, "-c", "import time; time.sleep(60)", "--run-id", pit.runId]);
    await waitUntil(() => pidsOfRun(pit.runId).length === own.length + 1, 2_000);
    expect(await pit.cleanup()).toEqual([stray.pid]);
    await stray.exited;
    expect(pidsOfRun(pit.runId).sort(byNumber)).toEqual(own);
    expect(await pit.execute("echo", { value: 1 })).toBe(1);
  });
});

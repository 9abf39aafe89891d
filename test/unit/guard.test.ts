import { describe, expect, test } from "bun:test";
import { SnakepitError } from "../../src/errors.ts";
import { CallGuard, type GuardProbes } from "../../src/call/guard.ts";
import { CircuitBreakerSchema } from "../../src/resilience/circuit-breaker.ts";
import { CrashBarrierSchema } from "../../src/resilience/crash.ts";
import { RetryPolicySchema } from "../../src/resilience/retry.ts";
import { EventBus } from "../../src/telemetry/bus.ts";

const guard = (threshold = 2, resetTimeoutMs = 1, probes: GuardProbes = {}, retry: Record<string, unknown> = {}) => {
  const bus = new EventBus();
  const g = new CallGuard("p", {
    retry: RetryPolicySchema.parse({ backoffMs: [1], jitter: 0, ...retry }),
    circuitBreaker: CircuitBreakerSchema.parse({ failureThreshold: threshold, resetTimeoutMs }),
    crashBarrier: CrashBarrierSchema.parse({ backoffMs: [1] }),
  }, bus, probes);
  const spawnFailed = () => bus.emit("worker.restart_failed", { pool: "p", worker: "", error: "boom", attempt: 0 });
  const started = () => bus.emit("worker.started", { pool: "p", worker: "w", pid: 1, durationMs: 1 });
  return { g, bus, spawnFailed, started };
};
const opts = () => ({ idempotent: false, signal: undefined, deadline: performance.now() + 10_000, tool: "t" });
const failWith = (code: ConstructorParameters<typeof SnakepitError>[0]) => () => Promise.reject(new SnakepitError(code, code));

describe("CallGuard", () => {
  test("client-caused failures never open the breaker", async () => {
    const { g } = guard(1, 60_000);
    for (const code of ["deadline_exceeded", "aborted", "invalid_argument", "python_exception", "worker_crashed", "queue_timeout"] as const) {
      for (let i = 0; i < 5; i++) await g.run(failWith(code), opts()).catch(() => {});
    }
    expect([g.breaker.state, g.breaker.failures]).toEqual(["closed", 0]);
    expect(await g.run(() => Promise.resolve("ok"), opts())).toBe("ok");
  });

  test("failed replacements open it, other pools' events do not, a started worker closes it", async () => {
    const { g, bus, spawnFailed, started } = guard(2, 60_000);
    bus.emit("worker.restart_failed", { pool: "other", worker: "", error: "x", attempt: 0 });
    spawnFailed();
    expect(g.breaker.state).toBe("closed");
    spawnFailed();
    expect(g.breaker.state).toBe("open");
    await expect(g.run(() => Promise.resolve("ok"), opts())).rejects.toMatchObject({ code: "circuit_open" });
    started();
    expect(g.breaker.state).toBe("closed");
  });

  test("an open breaker lets calls through while a ready worker exists", async () => {
    let ready = true;
    const { g, spawnFailed } = guard(1, 60_000, { canServe: () => ready });
    spawnFailed();
    expect(g.breaker.state).toBe("open");
    expect(await g.run(() => Promise.resolve("ok"), opts())).toBe("ok");
    ready = false;
    await expect(g.run(() => Promise.resolve("ok"), opts())).rejects.toMatchObject({ code: "circuit_open" });
  });

  test("an attempt that throws synchronously in half-open gives its probe back", async () => {
    const { g, spawnFailed } = guard(1, 50);
    spawnFailed();
    expect(g.breaker.state).toBe("open");
    await Bun.sleep(80); // half-open now
    const lost = () => {
      throw new SnakepitError("session_worker_lost", "gone");
    };
    await expect(g.run(lost, opts())).rejects.toMatchObject({ code: "session_worker_lost" });
    expect(await g.run(() => Promise.resolve("ok"), opts())).toBe("ok");
  });

  test("pool_saturated is not retried while the pool stays saturated", async () => {
    let saturated = true;
    let n = 0;
    const { g } = guard(2, 1, { isSaturated: () => saturated });
    const attempt = () => (++n, Promise.reject(new SnakepitError("pool_saturated", "full")));
    await expect(g.run(attempt, opts())).rejects.toMatchObject({ code: "pool_saturated" });
    expect(n).toBe(1);
    saturated = false;
    n = 0;
    await expect(g.run(attempt, opts())).rejects.toMatchObject({ code: "pool_saturated" });
    expect(n).toBe(3);
  });

  test("retries stop when the retry budget is spent", async () => {
    const { g } = guard(2, 1, {}, { budgetRatio: 0, budgetMinPerSecond: 0.2 }); // 2 retries per 10 s
    let n = 0;
    const attempt = () => (++n, Promise.reject(new SnakepitError("worker_unavailable", "none")));
    for (let i = 0; i < 5; i++) await g.run(attempt, opts()).catch(() => {});
    expect(n).toBe(5 + 2);
  });
});

describe("CallGuard and never-started calls", () => {
  const notStarted = () => new SnakepitError("worker_unavailable", "gone before it started", { details: { worker: "w1", notStarted: true } });

  test("runs a never-started call again at the front of the queue, idempotent or not, without counting a failure", async () => {
    const { g } = guard(1);
    const fronts: boolean[] = [];
    let n = 0;
    const out = await g.run((front) => {
      fronts.push(front);
      return ++n < 3 ? Promise.reject(notStarted()) : Promise.resolve("ran");
    }, opts());
    expect(out).toBe("ran");
    expect(fronts).toEqual([false, true, true]);
    expect(g.requeued).toBe(2);
    expect(g.breaker.state).toBe("closed");
  });

  test("a never-started call past its deadline fails with deadline_exceeded, aborted when its signal fired", async () => {
    const { g } = guard(5);
    const late = { ...opts(), deadline: performance.now() - 1 };
    await expect(g.run(() => Promise.reject(notStarted()), late)).rejects.toMatchObject({ code: "deadline_exceeded", details: { worker: "w1" } });
    const abort = new AbortController();
    abort.abort();
    await expect(g.run(() => Promise.reject(notStarted()), { ...opts(), signal: abort.signal })).rejects.toMatchObject({ code: "aborted" });
  });
});

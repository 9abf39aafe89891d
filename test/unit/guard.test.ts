import { describe, expect, test } from "bun:test";
import { SnakepitError } from "../../src/errors.ts";
import { CallGuard } from "../../src/call/guard.ts";
import { CircuitBreakerSchema } from "../../src/resilience/circuit-breaker.ts";
import { CrashBarrierSchema } from "../../src/resilience/crash.ts";
import { RetryPolicySchema } from "../../src/resilience/retry.ts";
import { EventBus } from "../../src/telemetry/bus.ts";

const guard = (threshold = 2, resetTimeoutMs = 1) =>
  new CallGuard("p", {
    retry: RetryPolicySchema.parse({ backoffMs: [1], jitter: 0 }),
    circuitBreaker: CircuitBreakerSchema.parse({ failureThreshold: threshold, resetTimeoutMs }),
    crashBarrier: CrashBarrierSchema.parse({ backoffMs: [1] }),
  }, new EventBus());
const opts = () => ({ idempotent: false, signal: undefined, deadline: performance.now() + 10_000, tool: "t" });
const failWith = (code: ConstructorParameters<typeof SnakepitError>[0]) => () => Promise.reject(new SnakepitError(code, code));

describe("CallGuard", () => {
  test("an attempt that throws synchronously in half-open gives its probe back", async () => {
    const g = guard(1, 50);
    await expect(g.run(failWith("queue_timeout"), opts())).rejects.toMatchObject({ code: "queue_timeout" });
    expect(g.breaker.state).toBe("open");
    await Bun.sleep(80); // half-open now
    const lost = () => {
      throw new SnakepitError("session_worker_lost", "gone");
    };
    await expect(g.run(lost, opts())).rejects.toMatchObject({ code: "session_worker_lost" });
    expect(await g.run(() => Promise.resolve("ok"), opts())).toBe("ok");
    expect(g.breaker.state).toBe("closed");
  });

  test("a retry that meets an open breaker fails with circuit_open and leaves it open", async () => {
    const g = guard(1, 60_000);
    const err = await g.run(failWith("worker_unavailable"), opts()).catch((e) => e);
    expect(err.code).toBe("circuit_open");
    expect(g.breaker.state).toBe("open");
  });

  test("caller errors neither open nor close the breaker", async () => {
    const g = guard(2, 60_000);
    await g.run(failWith("queue_timeout"), opts()).catch(() => {});
    await g.run(failWith("aborted"), opts()).catch(() => {});
    expect(g.breaker.failures).toBe(1);
    await g.run(failWith("queue_timeout"), opts()).catch(() => {});
    expect(g.breaker.state).toBe("open");
  });
});

describe("CallGuard and never-started calls", () => {
  const notStarted = () => new SnakepitError("worker_unavailable", "gone before it started", { details: { worker: "w1", notStarted: true } });

  test("runs a never-started call again at the front of the queue, idempotent or not, without counting a failure", async () => {
    const g = guard(1);
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
    const g = guard(5);
    const late = { ...opts(), deadline: performance.now() - 1 };
    await expect(g.run(() => Promise.reject(notStarted()), late)).rejects.toMatchObject({ code: "deadline_exceeded", details: { worker: "w1" } });
    const abort = new AbortController();
    abort.abort();
    await expect(g.run(() => Promise.reject(notStarted()), { ...opts(), signal: abort.signal })).rejects.toMatchObject({ code: "aborted" });
  });
});

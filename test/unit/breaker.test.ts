import { describe, expect, test } from "bun:test";
import { ERROR_CODES, type SnakepitErrorCode } from "../../src/errors.ts";
import { CircuitBreaker, type CircuitBreakerConfig } from "../../src/resilience/circuit-breaker.ts";
import { breakerVerdict, isOverload } from "../../src/resilience/outcome.ts";
import { RetryBudget } from "../../src/resilience/retry-budget.ts";
import { RetryPolicySchema, retryRefusal, withRetry } from "../../src/resilience/retry.ts";
import { SnakepitError } from "../../src/errors.ts";

const config = (over: Partial<CircuitBreakerConfig> = {}): CircuitBreakerConfig => ({
  enabled: true, failureThreshold: 3, resetTimeoutMs: 1_000, halfOpenMaxCalls: 1, ...over,
});

function breaker(over: Partial<CircuitBreakerConfig> = {}) {
  const clock = { now: 0, ready: false };
  const changes: string[] = [];
  const cb = new CircuitBreaker("p", config(over), {
    now: () => clock.now,
    canServe: () => clock.ready,
    onChange: (from, to) => changes.push(`${from}>${to}`),
  });
  return { cb, clock, changes };
}

describe("CircuitBreaker", () => {
  test("opens after the threshold, half-opens after the reset time, closes when the adapter runs", () => {
    const { cb, clock, changes } = breaker();
    for (let i = 0; i < 3; i++) cb.failure();
    expect(cb.state).toBe("open");
    expect(() => cb.acquire()).toThrow(expect.objectContaining({ code: "circuit_open" }));
    clock.now = 1_000;
    expect(cb.acquire()).toBe(true); // the one probe
    expect(() => cb.acquire()).toThrow(expect.objectContaining({ code: "circuit_open" }));
    cb.success();
    expect(cb.state).toBe("closed");
    expect(changes).toEqual(["closed>open", "open>half_open", "half_open>closed"]);
  });

  test("reading the state any number of times changes nothing and emits nothing", () => {
    const { cb, clock, changes } = breaker();
    for (let i = 0; i < 3; i++) cb.failure();
    clock.now = 5_000;
    for (let i = 0; i < 10; i++) expect(cb.state).toBe("half_open");
    expect(cb.failures).toBe(3);
    expect(changes).toEqual(["closed>open"]);
    clock.now = 0; // had the read moved it, the clock going back would not undo it
    expect(cb.state).toBe("open");
  });

  test("never blocks calls while a ready worker exists", () => {
    const { cb, clock } = breaker();
    for (let i = 0; i < 3; i++) cb.failure();
    clock.ready = true;
    expect(() => cb.acquire()).not.toThrow();
    expect(() => cb.assertNotOpen()).not.toThrow();
    clock.ready = false;
    expect(() => cb.assertNotOpen()).toThrow(expect.objectContaining({ code: "circuit_open" }));
  });

  test("a failed probe opens it again; failures of one incident count once; a probe given back is reusable", () => {
    const { cb, clock } = breaker({ failureThreshold: 2, resetTimeoutMs: 10 });
    cb.failure("storm");
    cb.failure("storm");
    expect(cb.state).toBe("closed");
    cb.failure("spawn");
    expect(cb.state).toBe("open");
    clock.now = 10;
    expect(cb.acquire()).toBe(true);
    cb.release();
    expect(cb.acquire()).toBe(true);
    cb.failure();
    expect(cb.state).toBe("open");
  });

  test("disabled, it never opens", () => {
    const { cb } = breaker({ enabled: false, failureThreshold: 1 });
    cb.failure();
    cb.failure();
    expect(() => cb.acquire()).not.toThrow();
    expect(cb.state).toBe("closed");
  });
});

describe("breakerVerdict()", () => {
  test("only a failed worker start counts against the adapter; no client outcome does", () => {
    const counted = (ERROR_CODES as readonly SnakepitErrorCode[]).filter((c) => breakerVerdict(c) === "failure");
    expect(counted).toEqual(["worker_spawn_failed"]);
    for (const c of ["deadline_exceeded", "aborted", "invalid_argument", "python_exception", "worker_crashed", "queue_timeout"] as const) {
      expect(breakerVerdict(c)).toBe("neutral");
    }
    expect([isOverload("pool_saturated"), isOverload("queue_timeout"), isOverload("worker_crashed")]).toEqual([true, true, false]);
  });
});

describe("RetryBudget", () => {
  test("allows minPerSecond plus a ratio of recent calls, forgets after the window, reads are pure", () => {
    let now = 0;
    const b = new RetryBudget({ ratio: 0.5, minPerSecond: 1, windowMs: 2_000, now: () => now });
    for (let i = 0; i < 4; i++) b.recordCall();
    const taken = Array.from({ length: 6 }, () => b.tryRetry()).filter(Boolean).length;
    expect(taken).toBe(4); // 1/s * 2 s + 0.5 * 4 calls
    expect([b.canRetry(), b.canRetry()]).toEqual([false, false]);
    expect(b.usage).toEqual({ calls: 4, retries: 4 });
    now = 2_500; // the first second left the window
    expect(b.usage).toEqual({ calls: 0, retries: 0 });
    expect(b.canRetry()).toBe(true);
  });
});

describe("retryRefusal()", () => {
  const policy = RetryPolicySchema.parse({ retriable: ["pool_saturated", "queue_timeout", "worker_unavailable"] });
  const err = (code: SnakepitErrorCode) => new SnakepitError(code, code);
  test("overload errors are final while the pool is saturated; others are not", () => {
    expect(retryRefusal(err("pool_saturated"), policy, { attempt: 1, saturated: true })).toBe("pool still saturated");
    expect(retryRefusal(err("queue_timeout"), policy, { attempt: 1, saturated: true })).toBe("pool still saturated");
    expect(retryRefusal(err("pool_saturated"), policy, { attempt: 1, saturated: false })).toBeUndefined();
    expect(retryRefusal(err("worker_unavailable"), policy, { attempt: 1, saturated: true })).toBeUndefined();
    expect(retryRefusal(err("worker_unavailable"), policy, { attempt: 3 })).toBe("attempts spent");
    expect(retryRefusal(err("python_exception"), policy, { attempt: 1 })).toBe("not retriable");
  });
  test("a spent budget refuses", () => {
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 0, now: () => 0 });
    expect(retryRefusal(err("worker_unavailable"), policy, { attempt: 1, budget })).toBe("retry budget spent");
  });
});

describe("withRetry() and overload", () => {
  const policy = RetryPolicySchema.parse({ backoffMs: [1], jitter: 0, maxAttempts: 4 });
  test("while saturated, an overload error waits instead of calling again; the budget caps retries", async () => {
    let n = 0;
    let saturated = true;
    const full = () => (++n, Promise.reject(new SnakepitError("pool_saturated", "full")));
    await expect(withRetry(full, policy, { isSaturated: () => saturated })).rejects.toMatchObject({ code: "pool_saturated" });
    expect(n).toBe(1);
    saturated = false;
    n = 0;
    await expect(withRetry(full, policy, { isSaturated: () => saturated })).rejects.toMatchObject({ code: "pool_saturated", details: { attempts: 4 } });
    expect(n).toBe(4);
    n = 0;
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 0.1, now: () => 0 }); // one retry per 10 s
    await expect(withRetry(full, policy, { budget })).rejects.toMatchObject({ code: "pool_saturated" });
    expect(n).toBe(2);
  });
});

import { describe, expect, test } from "bun:test";
import { SnakepitError } from "../../src/errors.ts";
import { place } from "../../src/session/affinity.ts";
import { chooseDevice, deviceEnv } from "../../src/pool/devices.ts";
import { recycleReason } from "../../src/resilience/lifecycle.ts";
import { backoffMs } from "../../src/resilience/backoff.ts";
import { classifyCrash } from "../../src/resilience/crash.ts";
import { HealthMonitor } from "../../src/resilience/health.ts";
import { RetryPolicySchema, withRetry } from "../../src/resilience/retry.ts";
import { compileControl, TelemetryControlSchema } from "../../src/telemetry/control.ts";

describe("backoffMs()", () => {
  test("follows the sequence, repeats its last step, caps and jitters", () => {
    const seq = [100, 200, 400];
    expect([1, 2, 3, 4].map((a) => backoffMs(a, { sequenceMs: seq }))).toEqual([100, 200, 400, 400]);
    expect(backoffMs(3, { sequenceMs: seq, maxMs: 250 })).toBe(250);
    expect(backoffMs(1, { sequenceMs: seq, jitter: 0.25, random: () => 1 })).toBe(125);
    expect(backoffMs(1, { sequenceMs: seq, jitter: 0.25, random: () => 0 })).toBe(75);
  });
});

describe("withRetry()", () => {
  const policy = RetryPolicySchema.parse({ backoffMs: [1, 1, 1], jitter: 0 });
  test("retries the policy's codes up to maxAttempts", async () => {
    let n = 0;
    const out = await withRetry(async () => {
      if (++n < 3) throw new SnakepitError("pool_saturated", "full");
      return "ok";
    }, policy);
    expect([out, n]).toEqual(["ok", 3]);
    n = 0;
    await expect(withRetry(async () => {
      n++;
      throw new SnakepitError("pool_saturated", "full");
    }, policy)).rejects.toMatchObject({ code: "pool_saturated", details: { attempts: 3 } });
    expect(n).toBe(3);
  });
  test("does not retry other codes, nor past the deadline", async () => {
    let n = 0;
    await expect(withRetry(async () => {
      n++;
      throw new SnakepitError("python_exception", "bug");
    }, policy)).rejects.toMatchObject({ code: "python_exception" });
    expect(n).toBe(1);
    n = 0;
    await expect(withRetry(async () => {
      n++;
      throw new SnakepitError("pool_saturated", "full");
    }, policy, { deadline: performance.now() })).rejects.toMatchObject({ code: "pool_saturated" });
    expect(n).toBe(1);
  });
});

describe("place() (affinity)", () => {
  const w = (id: string, free: boolean, state = "ready") => ({ id, state, hasCapacity: free });
  test("hint prefers the pinned worker, else any", () => {
    expect(place([w("a", true)], "a", "hint", "s")).toMatchObject({ kind: "run" });
    expect(place([w("a", false)], "a", "hint", "s")).toEqual({ kind: "any" });
    expect(place([], "gone", "hint", "s")).toEqual({ kind: "any" });
  });
  test("strict modes wait, fail fast, or report the loss", () => {
    expect(place([w("a", false)], "a", "strict_queue", "s")).toMatchObject({ kind: "wait" });
    expect(place([w("a", false)], "a", "strict_fail_fast", "s")).toMatchObject({ kind: "fail", error: { code: "worker_busy" } });
    expect(place([w("a", true, "draining")], "a", "strict_queue", "s")).toEqual({ kind: "lost", workerId: "a" });
    expect(place([w("a", true)], undefined, "strict_queue", "s")).toEqual({ kind: "any" });
  });
});

describe("devices, lifecycle, crashes, health", () => {
  test("chooseDevice() avoids tainted devices and balances load", () => {
    const taints = new Map([["cuda:0", 2_000]]);
    expect(chooseDevice(["cuda:0", "cuda:1"], ["cuda:1"], taints, 1_000)).toBe("cuda:1");
    expect(chooseDevice(["cuda:0", "cuda:1"], ["cuda:1"], taints, 3_000)).toBe("cuda:0");
    expect(chooseDevice([], [], taints, 0)).toBeUndefined();
    expect(deviceEnv("cuda:3")).toEqual({ SNAKEPIT_DEVICE: "cuda:3", SNAKEPIT_LOCAL_DEVICE: "cuda:0", CUDA_VISIBLE_DEVICES: "3" });
    expect(deviceEnv("mps")).toEqual({ SNAKEPIT_DEVICE: "mps", SNAKEPIT_LOCAL_DEVICE: "mps" });
  });
  test("recycleReason()", () => {
    const cfg = { workerTtlMs: 100, workerMaxRequests: 10, memoryThresholdMb: 1, checkIntervalMs: 1 };
    expect(recycleReason({ startedAt: 0, requests: 10 }, 0, cfg, 0)).toBe("max_requests");
    expect(recycleReason({ startedAt: 0, requests: 0 }, 2 * 1024 * 1024, cfg, 0)).toBe("memory");
    expect(recycleReason({ startedAt: 0, requests: 0 }, 0, cfg, 100)).toBe("ttl");
    expect(recycleReason({ startedAt: 0, requests: 0 }, undefined, { checkIntervalMs: 1 }, 1e9)).toBeUndefined();
  });
  test("classifyCrash()", () => {
    expect(classifyCrash({ exitCode: 3, signal: null }, undefined, false).kind).toBe("exit");
    expect(classifyCrash({ exitCode: null, signal: "SIGSEGV" }, undefined, false).kind).toBe("signal");
    expect(classifyCrash({ exitCode: null, signal: "SIGKILL" }, undefined, true).kind).toBe("oom");
    expect(classifyCrash({ exitCode: null, signal: "SIGKILL" }, "heartbeat_timeout", true).kind).toBe("heartbeat_timeout");
    // A forked worker that outlived its template and did not exit through Python: status unknown.
    const unknown = { exitCode: null, signal: null, statusNote: "exit status unknown: the worker outlived its preload template" };
    expect(classifyCrash(unknown, undefined, false)).toEqual({ kind: "signal", exitCode: null, signal: null, statusNote: unknown.statusNote });
    expect(classifyCrash(unknown, undefined, true).kind).toBe("oom");
    expect(classifyCrash(unknown, "cancel_timeout", true).kind).toBe("cancel_timeout");
    expect(classifyCrash({ exitCode: null, signal: "SIGSEGV" }, undefined, true).kind).toBe("signal");
    expect(classifyCrash({ exitCode: 3, signal: null }, undefined, true)).toEqual({ kind: "exit", exitCode: 3, signal: null });
  });
  test("HealthMonitor counts crashes in a rolling window", () => {
    let now = 0;
    let whole = false;
    const h = new HealthMonitor({ crashWindowMs: 100, maxCrashes: 2 }, { now: () => now, isWhole: () => whole });
    h.record();
    h.record();
    expect(h.isHealthy).toBe(false);
    expect([h.recentCrashes, h.recentCrashes, h.isHealthy]).toEqual([2, 2, false]); // reads change nothing
    whole = true; // every crashed worker was replaced
    expect(h.isHealthy).toBe(true);
    whole = false;
    now = 150;
    expect([h.recentCrashes, h.isHealthy]).toEqual([0, true]);
  });
});

describe("compileControl()", () => {
  test("deny wins, allow narrows, per-pattern rates apply", () => {
    const pass = compileControl(TelemetryControlSchema.parse({ allow: ["python.*"], deny: ["python.secret.*"], sampling: { "python.half.*": 0.5 } }), () => 0.7);
    expect(pass("python.x")).toBe(true);
    expect(pass("python.secret.key")).toBe(false);
    expect(pass("other")).toBe(false);
    expect(pass("python.half.y")).toBe(false);
    expect(compileControl(TelemetryControlSchema.parse({ enabled: false }))("python.x")).toBe(false);
  });
});

describe("RestartBudget", () => {
  test("allows max restarts per window, then says how long to wait", async () => {
    const { RestartBudget } = await import("../../src/pool/restart-budget.ts");
    const b = new RestartBudget(2, 1_000);
    expect([b.take(0), b.take(100), b.take(200)]).toEqual([0, 0, 800]);
    expect(b.take(1_000)).toBe(0);
    expect(b.used(1_000)).toBe(2);
  });
});

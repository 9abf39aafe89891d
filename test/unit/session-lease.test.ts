// Sessions own their state: leases, deferred cleanup, metadata, exists, stats.
import { describe, expect, test } from "bun:test";
import { parseSessionConfig } from "../../src/config/parse.ts";
import { SessionManager } from "../../src/session/sessions.ts";
import { EventBus } from "../../src/telemetry/bus.ts";

function manager(now = { t: 1_000 }) {
  const ended: Array<[string, string]> = [];
  const m = new SessionManager(parseSessionConfig({ ttlMs: 10_000 }), { bus: new EventBus(), onEnd: (s, reason) => ended.push([s.id, reason]), now: () => now.t });
  return { m, ended, now };
}

describe("SessionManager.lease()", () => {
  test("counts the call in flight until released, and its outcome once", () => {
    const { m, now } = manager();
    const lease = m.lease("s1");
    expect(m.stats("s1").inFlight).toBe(1);
    now.t += 250;
    lease.release(true);
    lease.release(false); // idempotent
    expect(m.stats("s1")).toMatchObject({ inFlight: 0, calls: 1, errors: 0, totalMs: 250, lastCallAt: 1_250 });
    m.close();
  });

  test("a disposed lease without release counts as an error", () => {
    const { m } = manager();
    {
      using _lease = m.lease("s2");
    }
    expect(m.stats("s2")).toMatchObject({ inFlight: 0, errors: 1 });
    m.close();
  });

  test("binds the session to a worker per pool and reports a move", () => {
    const { m } = manager();
    const lease = m.lease("s3");
    expect(lease.bind("p", "w1")).toBeUndefined();
    expect(lease.bind("p", "w1")).toBeUndefined();
    expect(lease.bind("p", "w2")).toBe("w1");
    expect(lease.unbind("p", "w1")).toBe(false);
    expect(lease.unbind("p", "w2")).toBe(true);
    expect(lease.pinned("p")).toBeUndefined();
    m.close();
  });

  test("a session deleted during a call is cleaned up again when its last call ends", () => {
    const { m, ended } = manager();
    const a = m.lease("s4");
    const b = m.lease("s4");
    m.delete("s4");
    expect(ended).toEqual([["s4", "deleted"]]);
    a.release(true);
    expect(ended).toHaveLength(1);
    b.release(true);
    expect(ended).toEqual([["s4", "deleted"], ["s4", "drained"]]);
    m.close();
  });
});

describe("SessionManager", () => {
  test("updateMetadata() takes any JSON value and refuses what is not JSON", () => {
    const { m } = manager();
    m.create("s5", { metadata: { user: "ada" } });
    expect(m.updateMetadata("s5", [1, "two", { three: null }]).metadata).toEqual([1, "two", { three: null }]);
    expect(m.updateMetadata("s5", "plain").metadata).toBe("plain");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => m.updateMetadata("s5", cyclic as never)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    expect(() => m.updateMetadata("s5", (() => 1) as never)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    expect(() => m.updateMetadata("nope", 1)).toThrow(expect.objectContaining({ code: "session_not_found" }));
    m.close();
  });

  test("exists() and stats() do not touch the session", () => {
    const { m, now } = manager();
    m.create("s6");
    now.t += 9_000;
    expect(m.exists("s6")).toBe(true);
    expect(m.stats("s6").idleMs).toBe(9_000);
    now.t += 1_001; // past the TTL: reading never kept it alive
    expect(m.exists("s6")).toBe(false);
    expect(() => m.stats("s6")).toThrow(expect.objectContaining({ code: "session_not_found" }));
    m.close();
  });
});

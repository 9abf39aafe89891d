import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON, waitUntil } from "../helpers.ts";

const users = new Map<string, { name: string; plan: string }>([["u1", { name: "Ada", plan: "pro" }]]);
const seen: unknown[] = [];

function registerHostTools(pit: Snakepit): void {
  pit.tools.register("user_record", {
    description: "Read a user from the host's map",
    input: z.object({
      key: z.string(),
      tags: z.array(z.string()),
      filters: z.record(z.string(), z.unknown()),
      missing: z.null(),
      blob: z.instanceof(Uint8Array),
    }),
    handler: (args, ctx) => {
      seen.push({ args, session: ctx.sessionId });
      return { user: users.get(args.key) ?? null, blobLength: args.blob.length, echo: args };
    },
  });
  pit.tools.register("count_up", {
    input: z.object({ n: z.number().int() }),
    async *handler({ n }) {
      for (let i = 0; i < n; i++) yield i;
    },
  });
  pit.tools.register("fails", { handler: () => { throw new Error("host side broke"); } });
}

describe("sessions and host tools", () => {
  let pit: Snakepit;
  beforeAll(async () => {
    pit = await Snakepit.start({ adapter: fixture("stateful.py:Stateful"), poolSize: 2, python: PYTHON, affinity: "strict_queue" });
    registerHostTools(pit);
  });
  afterAll(() => pit.close());

  test("a model kept in session state serves later calls, and a host tool reads the host's map with every type", async () => {
    const s = pit.session("user-42", { metadata: { tenant: "acme" } });
    const loaded = await s.execute<{ pid: number }>("load", { name: "tiny", weight: 3 });
    expect(await s.execute("predict", { x: 2 })).toEqual({ y: 6, calls: 1, model: "tiny" });
    expect(await s.execute("predict", { x: 5 })).toEqual({ y: 15, calls: 2, model: "tiny" });
    expect(await s.execute("pid")).toBe(loaded.pid);
    const record = await s.execute<{ user: unknown; blobLength: number; echo: Record<string, unknown> }>("lookup", { key: "u1" });
    expect(record.user).toEqual({ name: "Ada", plan: "pro" });
    expect(record.blobLength).toBe(3);
    expect(record.echo).toEqual({ key: "u1", tags: ["a", "b"], filters: { min: 1, nested: { x: [1, 2] } }, missing: null, blob: new Uint8Array([0, 1, 255]) });
    expect(seen.at(-1)).toMatchObject({ session: "user-42" });
    expect(await s.execute("lookup_attr", { key: "nobody" })).toMatchObject({ user: null, blobLength: 0 });
    expect(await s.execute("alookup", { key: "u1" })).toMatchObject({ user: { name: "Ada" }, blobLength: 1 });
    // Another session has its own state.
    const other = await failure(pit.execute("predict", { x: 1 }, { sessionId: "someone-else" }));
    expect(other.python.type).toBe("LookupError");
  });

  test("Python sees the caller's session id, not a per-worker one", async () => {
    expect(await pit.execute("whoami", {}, { sessionId: "caller-7", metadata: { trace: "t1" } })).toEqual({
      session: "caller-7", metadata: { trace: "t1" }, keys: [],
    });
  });

  test("a host tool that is an async generator is an iterator in Python", async () => {
    expect(await pit.execute("stream_from_host", { n: 300 })).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  test("host errors arrive as HostToolError with the code and message", async () => {
    expect(await pit.execute("host_error", { tool_name: "fails", args: {} })).toEqual({ code: "internal", message: "host side broke" });
    const missing = await pit.execute<{ code: string; message: string }>("host_error", { tool_name: "nope", args: {} });
    expect(missing.code).toBe("tool_not_found");
    expect(missing.message).toContain("user_record");
    const invalid = await pit.execute<{ code: string; message: string }>("host_error", { tool_name: "user_record", args: { key: 5 } });
    expect(invalid.code).toBe("invalid_argument");
    expect(invalid.message).toContain("argument key");
  });

  test("the enclosing call's deadline reaches the host tool's signal", async () => {
    let aborted: Promise<unknown> | undefined;
    const off = pit.tools.register("slow", {
      handler: (_args, ctx) => {
        aborted = new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve(ctx.signal.reason)));
        return new Promise(() => {});
      },
    });
    const err = await failure(pit.execute("wait_on_host", {}, { timeoutMs: 300 }));
    expect(err.code).toBe("deadline_exceeded");
    await aborted;
    off();
  });

  test("host tools are listed with their JSON Schemas, and per-session tools only for their session", async () => {
    const s = pit.session("with-own-tool");
    s.tools.register("private_tool", { input: z.object({ q: z.string() }), handler: ({ q }) => q });
    expect(await s.execute("host_tools")).toContain("private_tool");
    expect(await pit.execute("host_tools", {}, { sessionId: "another" })).not.toContain("private_tool");
    const listed = pit.tools.list({ sessionId: "with-own-tool" });
    expect(listed.find((t) => t.name === "private_tool")).toMatchObject({ origin: "host", parameters: { type: "object", properties: { q: { type: "string" } } } });
    expect(listed.find((t) => t.name === "count_up")?.streaming).toBe(true);
    expect(listed.find((t) => t.name === "load")?.origin).toBe("python");
  });

  test("closing a session drops its Python state and its host tools", async () => {
    const s = pit.session("short-lived");
    await s.execute("load", { name: "m" });
    const worker = pit.pools.get("default")!.workers.find((w) => w.id === s.info()!.workers.default)!;
    const before = Number((await worker.control("Heartbeat", {})).sessions);
    expect(s.close()).toBe(true);
    await expect(worker.control("Heartbeat", {})).resolves.toMatchObject({ sessions: before - 1 });
    expect(s.info()).toBeUndefined();
  });
});

describe("affinity when the pinned worker dies", () => {
  test("strict: the next call fails with session_worker_lost (no silent move), later calls start fresh", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("stateful.py:Stateful"), poolSize: 2, python: PYTHON, affinity: "strict_queue" });
    const { pid } = await pit.execute<{ pid: number }>("load", { name: "m" }, { sessionId: "s1" });
    const replaced = new Promise((r) => pit.on("worker.started", r));
    process.kill(pid, "SIGKILL");
    await replaced;
    const err = await failure(pit.execute("predict", { x: 1 }, { sessionId: "s1" }));
    expect(err).toMatchObject({ code: "session_worker_lost", details: { session: "s1" } });
    // Reported once; the session now starts over on a live worker (and has no model there).
    const again = await failure(pit.execute("predict", { x: 1 }, { sessionId: "s1" }));
    expect(again.python.type).toBe("LookupError");
  });

  test("hint: the session carries on elsewhere", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("stateful.py:Stateful"), poolSize: 2, python: PYTHON, affinity: "hint" });
    const first = await pit.execute<number>("pid", {}, { sessionId: "s2" });
    const replaced = new Promise((r) => pit.on("worker.started", r));
    process.kill(first, "SIGKILL");
    await replaced;
    const next = await pit.execute<number>("pid", {}, { sessionId: "s2" });
    expect(next).not.toBe(first);
  });

  test("a rehydrate hook rebuilds state on the new worker and the call succeeds", async () => {
    const rehydrated: string[] = [];
    await using pit = await Snakepit.start(
      { adapter: fixture("stateful.py:Stateful"), poolSize: 2, python: PYTHON, affinity: "strict_fail_fast" },
      {
        rehydrate: async ({ session, lostWorker }) => {
          rehydrated.push(lostWorker);
          await session.execute("load", { name: "reloaded", weight: 10 });
        },
      },
    );
    const { pid } = await pit.execute<{ pid: number }>("load", { name: "m" }, { sessionId: "s3" });
    const replaced = new Promise((r) => pit.on("worker.started", r));
    process.kill(pid, "SIGKILL");
    await replaced;
    expect(await pit.execute("predict", { x: 1 }, { sessionId: "s3" })).toEqual({ y: 10, calls: 1, model: "reloaded" });
    expect(rehydrated).toHaveLength(1);
  });

  test("strict_fail_fast fails with worker_busy when the pinned worker is busy; strict_queue waits for it", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 2, python: PYTHON, affinity: "strict_fail_fast", prefetch: 0 });
    const pinned = await pit.execute<number>("pid", {}, { sessionId: "busy" });
    const long = pit.execute("spin", { ms: 300 }, { sessionId: "busy" });
    await expect(pit.execute("pid", {}, { sessionId: "busy" })).rejects.toMatchObject({ code: "worker_busy" });
    const queued = pit.execute<number>("pid", {}, { sessionId: "busy", affinity: "strict_queue" });
    expect(await queued).toBe(pinned);
    await long;
  });
});

describe("session lifecycle", () => {
  test("a session closed while its call runs still has its worker state dropped afterwards", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON });
    const s = pit.session("closing");
    const started = new Promise((r) => pit.on("call.start", r));
    const running = s.execute("slow_state", { ms: 300 });
    await started;
    s.close(); // reaches the worker before the tool writes ctx.state
    expect(await running).toBe("written");
    const worker = pit.pools.get("default")!.workers[0]!;
    expect((await worker.control("Heartbeat", {})).sessions).toBe(0);
  });

  test("host tools cannot be registered for a session that does not exist, and a new session starts without old ones", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("stateful.py:Stateful"), poolSize: 1, python: PYTHON });
    expect(() => pit.tools.register("t", { handler: () => 1 }, { sessionId: "nope" })).toThrow(expect.objectContaining({ code: "session_not_found" }));
    const first = pit.session("reused");
    first.tools.register("private_tool", { handler: () => 1 });
    first.close();
    pit.session("reused");
    expect(await pit.execute("host_tools", {}, { sessionId: "reused" })).not.toContain("private_tool");
  });

  test("TTL expiry frees the worker's session state", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("stateful.py:Stateful"), poolSize: 1, python: PYTHON, sessions: { ttlMs: 50 } });
    await pit.execute("load", { name: "m" }, { sessionId: "ttl" });
    const worker = pit.pools.get("default")!.workers[0]!;
    expect((await worker.control("Heartbeat", {})).sessions).toBe(1);
    await Bun.sleep(80);
    expect(pit.sessions.sweep()).toBe(1);
    expect(await waitUntil(() => pit.sessions.size === 0, 100)).toBe(true);
    const hb = await worker.control("Heartbeat", {});
    expect(hb.sessions).toBe(0);
  });

  test("the session cap fails with session_limit and warns at 80 %", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON, sessions: { maxSessions: 5, autoCreate: false } });
    const warnings: unknown[] = [];
    pit.on("session.limit_warning", (e) => warnings.push(e));
    for (let i = 0; i < 5; i++) pit.session(`s${i}`);
    expect(warnings).toEqual([{ sessions: 4, maxSessions: 5 }]);
    expect(() => pit.session("s5")).toThrow(expect.objectContaining({ code: "session_limit" }));
    await expect(pit.execute("pid", {}, { sessionId: "unknown" })).rejects.toMatchObject({ code: "session_not_found" });
    expect(() => pit.session("bad id with spaces")).toThrow(expect.objectContaining({ code: "invalid_argument" }));
  });

  test("10 000 sessions created, used and expired: host memory and worker state return to baseline", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("stateful.py:Stateful"), poolSize: 2, python: PYTHON, sessions: { ttlMs: 60_000 } });
    const heap = () => {
      Bun.gc(true);
      return process.memoryUsage().heapUsed;
    };
    const workerState = async () => {
      const beats = await Promise.all(pit.pools.get("default")!.workers.map((w) => w.control("Heartbeat", {})));
      return { sessions: beats.reduce((n, b) => n + Number(b.sessions), 0), rss: beats.reduce((n, b) => n + Number(b.rssBytes), 0) };
    };
    const baseHeap = heap();
    const base = await workerState();
    const N = 10_000;
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < N) {
        const id = `mem-${next++}`;
        await pit.execute("load", { name: id }, { sessionId: id });
      }
    }));
    const peakHeap = heap();
    const peak = await workerState();
    expect(peak.sessions).toBe(N);
    expect(pit.sessions.size).toBe(N);
    for (const s of pit.sessions.list()) s.lastAccessedAt = 0; // age them all past the TTL
    expect(pit.sessions.sweep()).toBe(N);
    let after = await workerState();
    for (let i = 0; i < 50 && after.sessions > 0; i++) after = await workerState();
    const endHeap = heap();
    console.log(`10k sessions: host heap ${(baseHeap / 1e6).toFixed(1)} MB -> ${(peakHeap / 1e6).toFixed(1)} MB -> ${(endHeap / 1e6).toFixed(1)} MB; ` +
      `worker sessions ${base.sessions} -> ${peak.sessions} -> ${after.sessions}; worker RSS ${(base.rss / 1e6).toFixed(1)} -> ${(peak.rss / 1e6).toFixed(1)} -> ${(after.rss / 1e6).toFixed(1)} MB`);
    expect(after.sessions).toBe(0);
    expect(pit.sessions.size).toBe(0);
    expect(endHeap - baseHeap).toBeLessThan(Math.max(2_000_000, (peakHeap - baseHeap) * 0.25));
  }, 120_000);
});

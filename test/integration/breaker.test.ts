// The breaker protects the pool from a broken adapter, never from its clients (issue 10, points 1-2).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/api/app.ts";
import { Snakepit, SnakepitError } from "../../src/mod.ts";
import { fixture, PYTHON, waitUntil } from "../helpers.ts";

const TOKEN = "breaker-test-token";

describe("client-chosen outcomes never open the breaker", () => {
  test("five calls with timeout_ms 5, then a normal call: 200 over HTTP", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("faults.py"), poolSize: 2, python: PYTHON });
    const app = createApp({ pit, token: TOKEN, maxBodyBytes: 64 * 1024, version: "test" });
    const post = (body: unknown) => app.request("/v1/execute", {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body),
    });
    for (let i = 0; i < 5; i++) {
      const res = await post({ tool: "slow", args: { ms: 100 }, timeout_ms: 5 });
      expect(res.status).toBe(504);
      expect((await res.json()).code).toBe("deadline_exceeded");
    }
    const res = await post({ tool: "slow", args: { ms: 1 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: 1 });
    expect(pit.health().pools[0]!.circuit).toBe("closed");
    const ready = await app.request("/readyz");
    expect(ready.status).toBe(200);
  });

  test("cancels, bad arguments and Python exceptions do not count either", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("faults.py"), poolSize: 1, python: PYTHON, circuitBreaker: { failureThreshold: 1 } });
    const fail = (p: Promise<unknown>) => p.then(() => undefined, (e: SnakepitError) => e.code);
    expect(await fail(pit.execute("raise_error", { kind: "ValueError" }))).toBe("python_exception");
    expect(await fail(pit.execute("slow", { ms: "x" }))).toBe("invalid_argument");
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 5);
    expect(await fail(pit.execute("slow", { ms: 50 }, { signal: cancel.signal }))).toBe("aborted");
    expect(await pit.execute("slow", { ms: 1 })).toBe(1);
    expect(pit.health().pools[0]!.circuit).toBe("closed");
  });
});

describe("a broken adapter opens it", () => {
  test("replacements that fail to start open it (fail fast, not ready); a worker that starts closes it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "snakepit-breaker-"));
    const marker = join(dir, "broken");
    try {
      await using pit = await Snakepit.start({
        adapter: fixture("broken_start.py"), poolSize: 1, python: PYTHON, env: { BROKEN_START_MARKER: marker },
        circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 },
      });
      const changes: string[] = [];
      pit.on("circuit.state", (e) => changes.push(`${e.from}>${e.to}`));
      writeFileSync(marker, "");
      await pit.execute("crash").catch(() => {});
      expect(await waitUntil(() => pit.health().pools[0]!.circuit === "open", 15_000)).toBe(true);
      const t0 = performance.now();
      const err = await pit.execute("slow", { ms: 1 }).catch((e: SnakepitError) => e);
      expect((err as SnakepitError).code).toBe("circuit_open");
      expect(performance.now() - t0).toBeLessThan(100);
      expect(pit.health().ready).toBe(false);
      rmSync(marker);
      const started = new Promise((r) => pit.on("worker.started", r));
      await started;
      expect(pit.health()).toMatchObject({ ready: true, pools: [{ circuit: "closed" }] });
      expect(await pit.execute("slow", { ms: 1 })).toBe(1);
      expect(changes).toEqual(["closed>open", "open>closed"]);
    } finally {
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

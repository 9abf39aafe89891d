// Worker start-up: what the bridge leaves out of a worker's start, and what it still guarantees.
import { describe, expect, test } from "bun:test";
import { accessSync, constants, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON, ROOT, waitUntil } from "../helpers.ts";

describe("worker start-up", () => {
  test("an idle worker has not imported logging, hashlib, secrets, random, argparse or dataclasses", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("logs_late.py"), poolSize: 1, python: PYTHON });
    const heavy = ["logging", "hashlib", "_hashlib", "secrets", "random", "argparse", "dataclasses", "traceback"];
    expect(await pit.execute("loaded", { names: heavy })).toEqual([]);
  }, 30_000);

  for (const [logLevel, shown] of [["warning", ["WARNING late: careful"]], ["info", ["INFO late: fyi", "WARNING late: careful"]]] as const) {
    test(`logging imported late by a tool still logs to the host at the pool's level (${logLevel})`, async () => {
      const lines: string[] = [];
      await using pit = await Snakepit.start({ adapter: fixture("logs_late.py"), poolSize: 1, python: PYTHON, logLevel }, { on: { "worker.log": (e) => void lines.push(e.line) } });
      await pit.execute("log", { message: "fyi", level: "info" });
      await pit.execute("log", { message: "careful", level: "warning" });
      expect(await waitUntil(() => lines.some((l) => l.includes("careful")), 5_000)).toBe(true);
      expect(lines.filter((l) => l.includes(" late: "))).toEqual([...shown]);
    }, 30_000);
  }

  const pkg = join(ROOT, "python/snakepit_bridge");
  const writable = (() => {
    try {
      accessSync(pkg, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  })();
  if (!writable) console.log(`skipped: ${pkg} is read-only, so the probe leaves its bytecode to Python`);
  test.skipIf(!writable)("the bridge's bytecode is compiled once, beside its sources, when the folder is writable", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("logs_late.py"), poolSize: 1, python: PYTHON });
    expect(pit.listWorkers()).toHaveLength(1);
    // This interpreter's bytecode (others of the compatibility matrix write their own tags).
    const tag = Bun.spawnSync([PYTHON, "-c", "import sys; print(sys.implementation.cache_tag)"]).stdout.toString().trim();
    const cache = new Set(readdirSync(join(pkg, "__pycache__")));
    for (const source of readdirSync(pkg).filter((n) => n.endsWith(".py"))) {
      const compiled = `${source.slice(0, -3)}.${tag}.pyc`;
      expect(cache.has(compiled), source).toBe(true);
      expect(statSync(join(pkg, "__pycache__", compiled)).mtimeMs).toBeGreaterThanOrEqual(statSync(join(pkg, source)).mtimeMs);
    }
  }, 30_000);

  // An absolute path to a native executable starts workers at once while the probe checks it; a
  // program that is not a fit Python must still fail the start with the probe's message.
  test.skipIf(!existsSync("/bin/true"))("a native executable that is not Python fails the start naming it, not a worker's exit", async () => {
    const err = await failure(Snakepit.start({ adapter: fixture("logs_late.py"), poolSize: 2, python: "/bin/true" }));
    expect(err.code).toBe("worker_spawn_failed");
    expect(err.message).toMatch(/Python interpreter "\/bin\/true" failed/);
  }, 30_000);
});

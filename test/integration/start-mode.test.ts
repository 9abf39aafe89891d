// How workers start (config `startMode`): by default forked from a template that imported only
// the bridge (Bun on Linux), spawned where that cannot work, with the reason reported.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Snakepit } from "../../src/mod.ts";
import type { LogRecord } from "../../src/telemetry/logger.ts";
import { byNumber, failure, fixture, pidsOfRun, processesOf, PYTHON, ROOT } from "../helpers.ts";

const THREADED = `${ROOT}test/fixtures/thread-at-startup`; // its sitecustomize starts a thread in every interpreter
const parentOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
};

describe.skipIf(process.platform !== "linux")("start mode", () => {
  test("by default, workers are forked from one bridge-only template, which stats report", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 3, python: PYTHON });
    const template = pit.stats().pools.default!.templatePid;
    expect(template).toBeNumber();
    expect(readFileSync(`/proc/${template}/cmdline`, "utf8").split("\0")).toEqual([PYTHON, "-m", "snakepit_bridge.forkserver", "--run-id", pit.runId, "--pool", "default", "--instance", "default", ""]);
    expect(pit.listWorkers().map((w) => parentOf(w.pid))).toEqual([template!, template!, template!]);
    expect(pidsOfRun(pit.runId).sort(byNumber)).toEqual(processesOf(pit));
    expect(await pit.execute("echo", { value: "forked" })).toBe("forked");
  }, 60_000);

  test("startMode spawn: each worker is its own interpreter, child of the host; no template", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 2, python: PYTHON, startMode: "spawn" });
    expect(pit.stats().pools.default!.templatePid).toBeUndefined();
    expect(pit.listWorkers().map((w) => parentOf(w.pid))).toEqual([process.pid, process.pid]);
    expect(pidsOfRun(pit.runId).sort(byNumber)).toEqual(processesOf(pit));
  }, 60_000);

  test("auto: a template that cannot fork safely is left, the workers are spawned, and the reason is logged", async () => {
    const fallbacks: Array<{ pool: string; reason: string }> = [];
    const records: LogRecord[] = [];
    await using pit = await Snakepit.start(
      { adapter: fixture("echo.py"), poolSize: 2, python: PYTHON, env: { PYTHONPATH: THREADED }, telemetry: { log: { level: "warning" } } },
      { on: { "pool.spawn_fallback": (e) => fallbacks.push(e) }, logSink: (r) => records.push(r) },
    );
    expect(fallbacks).toHaveLength(1); // once per pool, not once per worker
    expect(fallbacks[0]!.reason).toContain("threads were started while preloading (agent-flusher)");
    expect(records.find((r) => r.message.includes("workers are spawned, not forked"))?.level).toBe("warning");
    expect(pit.stats().pools.default!.templatePid).toBeUndefined();
    expect(pit.listWorkers().map((w) => parentOf(w.pid))).toEqual([process.pid, process.pid]);
    expect(pidsOfRun(pit.runId).sort(byNumber)).toEqual(processesOf(pit)); // the refused template is gone
    expect(await pit.execute("echo", { value: 2 })).toBe(2);
  }, 60_000);

  test("startMode fork: the same refusal fails the start with its reason", async () => {
    const err = await failure(Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON, env: { PYTHONPATH: THREADED }, startMode: "fork" }));
    expect(err.code).toBe("worker_spawn_failed");
    expect(err.message).toContain("refusing to fork workers: threads were started while preloading (agent-flusher)");
  }, 60_000);

  test("settings that contradict each other or cannot fork are config errors", async () => {
    const both = await failure(Snakepit.start({ adapter: fixture("echo.py"), python: PYTHON, startMode: "spawn", preload: { modules: [] } }));
    expect(both).toMatchObject({ code: "config_invalid", details: { field: "preload" } });
    expect(both.message).toContain("startMode is \"spawn\"");
    const args = await failure(Snakepit.start({ adapter: fixture("echo.py"), python: PYTHON, startMode: "fork", pythonArgs: ["-X", "dev"] }));
    expect(args).toMatchObject({ code: "config_invalid", details: { field: "startMode" } });
    const bad = await failure(Snakepit.start({ adapter: fixture("echo.py"), python: PYTHON, startMode: "clone" as "fork" }));
    expect(bad.code).toBe("config_invalid");
    expect(bad.message).toContain("startMode");
  });

  test("auto with pythonArgs spawns (interpreter flags cannot apply to a fork)", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON, pythonArgs: ["-X", "dev"] });
    expect(pit.stats().pools.default!.templatePid).toBeUndefined();
    expect(parentOf(pit.listWorkers()[0]!.pid)).toBe(process.pid);
  }, 60_000);
});

// Preloaded pools: workers (and replacements) are forked from a template that imported the
// named modules once, and keep every guarantee of spawned workers.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, isAlive, pidsOfRun, PYTHON, ROOT, waitUntil } from "../helpers.ts";

const FIXTURES = `${ROOT}test/fixtures`;
const linuxBun = process.platform === "linux";
const options = (extra: Record<string, unknown> = {}) => ({ adapter: fixture("preload_tools.py"), python: PYTHON, env: { PYTHONPATH: FIXTURES }, preload: { modules: ["preload_marker"] }, ...extra });
type Info = { pid: number; ppid: number; pgid: number; sid: number; worker: string; marker_imported_in: number; argv_has_run_id: boolean; stdin: string };

describe.skipIf(!linuxBun)("preload", () => {
  test("workers are forked from one template that imported the modules once; each is its own session with private pipes", async () => {
    await using pit = await Snakepit.start({ ...options(), poolSize: 2 });
    const pids = pit.listWorkers().map((w) => w.pid);
    const infos = await Promise.all(pids.map(async () => (await pit.execute("info")) as Info));
    const seen = new Map<number, Info>();
    for (let i = 0; seen.size < 2 && i < 50; i++) {
      const a = (await pit.execute("info")) as Info;
      seen.set(a.pid, a);
    }
    for (const info of [...infos, ...seen.values()]) {
      expect(pids).toContain(info.pid);
      expect(info.ppid).not.toBe(process.pid); // forked by the template, not spawned by us
      expect(info.marker_imported_in).toBe(info.ppid); // imported once, in the template
      expect(info.pgid).toBe(info.pid);
      expect(info.sid).toBe(info.pid);
      expect(info.argv_has_run_id).toBe(true); // the registry finds it by run id
      expect(info.stdin).toBe("/dev/null"); // the protocol moved to private descriptors
    }
    expect(new Set([...seen.values()].map((i) => i.worker)).size).toBe(2);
    expect(readFileSync(`/proc/${infos[0]!.ppid}/cmdline`, "utf8")).toContain("snakepit_bridge.forkserver");
    const chunks: number[] = [];
    for await (const c of pit.stream<number>("count", { n: 5 })) chunks.push(c);
    expect(chunks).toEqual([0, 1, 2, 3, 4]);
    expect(await pit.execute("shout", { text: "hi" })).toBe("HI");
  }, 60_000);

  test("a crashed worker is replaced by a new fork of the same template", async () => {
    await using pit = await Snakepit.start({ ...options(), poolSize: 1 });
    const before = (await pit.execute("info")) as Info;
    process.kill(before.pid, "SIGKILL");
    expect(await waitUntil(() => pit.listWorkers().some((w) => w.state === "ready" && w.pid !== before.pid), 20_000)).toBe(true);
    const after = (await pit.execute("info")) as Info;
    expect(after.pid).not.toBe(before.pid);
    expect(after.ppid).toBe(before.ppid);
  }, 60_000);

  test("close() waits for the template too, and forked workers see a spawned worker's argv", async () => {
    const pit = await Snakepit.start({ ...options(), poolSize: 1 });
    expect(await pit.execute("argv")).toEqual(expect.arrayContaining(["--adapter", "--worker-id", "--run-id", pit.runId]));
    await pit.close();
    expect(pidsOfRun(pit.runId)).toEqual([]);
  }, 60_000);

  test("kill -9 the host: the forked workers and the template exit", async () => {
    const host = Bun.spawn([process.execPath, `${FIXTURES}/preload-host.ts`, fixture("preload_tools.py"), PYTHON, FIXTURES], { stdout: "pipe", stderr: "inherit" });
    const reader = host.stdout.getReader();
    let line = "";
    while (!line.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      line += new TextDecoder().decode(value);
    }
    const info = JSON.parse(line) as { workerPids: number[]; templatePid: number; templateCmd: string };
    expect(info.templateCmd).toContain("forkserver");
    host.kill("SIGKILL");
    await host.exited;
    expect(await waitUntil(() => [...info.workerPids, info.templatePid].every((p) => !isAlive(p)), 10_000)).toBe(true);
  }, 60_000);

  test("a template that started threads is refused with a clear error, not forked", async () => {
    const err = await failure(Snakepit.start({ ...options(), poolSize: 1, preload: { modules: ["starts_thread"] } }));
    expect(err.code).toBe("worker_spawn_failed");
    expect(err.message).toMatch(/refusing to fork workers: threads were started while preloading \(background-poller\)/);
  }, 60_000);

  test("a module that cannot be imported fails the start and names it", async () => {
    const err = await failure(Snakepit.start({ ...options(), poolSize: 1, preload: { modules: ["no_such_module_xyz"] } }));
    expect(err.code).toBe("worker_spawn_failed");
    expect(err.message).toContain("no_such_module_xyz");
  }, 60_000);

  test("pythonArgs cannot apply to forked workers: config error", async () => {
    const err = await failure(Snakepit.start({ ...options(), poolSize: 1, pythonArgs: ["-X", "dev"] }));
    expect(err.code).toBe("config_invalid");
    expect(err.message).toContain("pythonArgs");
  });
});

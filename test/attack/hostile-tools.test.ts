// Hostile tools under both start modes (forked from a template, and spawned): a tool that forks a
// child, starts a setsid() grandchild, double-forks a daemon, forks and returns into the worker's
// loop, closes fd 0 and 1, writes garbage to stdout. After each: the other worker is untouched, and
// no process of the run (nor any process those tools started) outlives close(), a SIGKILL or a
// SIGTERM of the host. A tool that kills the template leaves its workers serving.
// (Containment of setsid children and daemons in fork mode with and without cgroups is also in
// containment.test.ts; this file adds spawn mode, SIGTERM, and the other tools.)
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Snakepit } from "../../src/mod.ts";
import { byNumber, failure, fixture, isAlive, pidsOfRun, processesOf, PYTHON, startServer, waitUntil, ROOT } from "../helpers.ts";

const HOSTILE = fixture("hostile.py");
const MODES = process.platform === "linux" ? (["fork", "spawn"] as const) : (["spawn"] as const);
/** Tools that leave a process behind answer its pid. */
const ESCAPES = ["fork_child", "setsid_grandchild", "double_fork"];
const NOISE = ["garbage_stdout", "fork_and_return", "close_stdio"]; // close_stdio last: garbage after it is EBADF

interface Report {
  runId: string;
  workers: number[];
  template: number | null;
  answers: Record<string, unknown>;
}

/** Start tests/fixtures/hostile-host.ts; resolves with its report line and a reader for more. */
async function startHost(mode: string, then: "serve" | "close") {
  const host = Bun.spawn([process.execPath, fixture("hostile-host.ts"), HOSTILE, PYTHON, mode, then, [...ESCAPES, ...NOISE].join(",")], {
    stdout: "pipe",
    stderr: "ignore", // the garbage tool's output
  });
  const close = () => host.kill("SIGUSR2");
  const reader = host.stdout.getReader();
  let out = "";
  const line = async (n: number) => {
    while (out.split("\n").length <= n) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the host exited early: ${out}`);
      out += new TextDecoder().decode(value);
    }
    return out.split("\n")[n - 1]!;
  };
  const report = JSON.parse(await line(1)) as Report;
  const escaped = ESCAPES.map((t) => report.answers[t]).filter((p): p is number => typeof p === "number");
  const all = [...report.workers, ...(report.template ? [report.template] : []), ...escaped];
  return { host, report, escaped, all, line, close };
}

/** Wait for every pid to be gone; kill (and report) any that is not, so no test leaves strays. */
async function allGone(pids: number[], runId: string): Promise<{ left: number[]; run: number[] }> {
  await waitUntil(() => !pids.some(isAlive) && pidsOfRun(runId).length === 0, 5_000, 10);
  const left = pids.filter(isAlive);
  const run = pidsOfRun(runId);
  for (const pid of [...left, ...run]) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  return { left, run };
}

for (const mode of MODES) {
  describe(`hostile tools (${mode})`, () => {
    test("each tool answers, and the escaped processes are really running", async () => {
      const { host, report, escaped } = await startHost(mode, "close");
      try {
        expect(report.template === null).toBe(mode === "spawn");
        expect(escaped).toHaveLength(3);
        expect(escaped.every(isAlive)).toBe(true);
        expect(report.answers).toMatchObject({ close_stdio: "closed", garbage_stdout: "still here" });
        expect(typeof report.answers.fork_and_return).toBe("number");
      } finally {
        host.kill("SIGKILL");
        await host.exited;
        await allGone([...report.workers, ...escaped], report.runId);
      }
    }, 60_000);

    for (const end of ["close", "SIGKILL", "SIGTERM"] as const) {
      test(`after ${end === "close" ? "close()" : `a ${end} of the host`}: no process of the run, and none the tools started, is left`, async () => {
        const { host, report, all, line, close } = await startHost(mode, end === "close" ? "close" : "serve");
        expect({ report, dead: all.filter((p) => !isAlive(p)) }).toEqual({ report, dead: [] });
        if (end === "close") {
          close();
          expect(await line(2)).toBe("closed");
        } else host.kill(end);
        await host.exited;
        expect(await allGone(all, report.runId)).toEqual({ left: [], run: [] });
      }, 60_000);
    }

    test("the other worker is untouched: same pid, serving, while its sibling runs each hostile tool", async () => {
      await using pit = await Snakepit.start({ adapter: HOSTILE, poolSize: 2, python: PYTHON, startMode: mode });
      const [a, b] = pit.listWorkers();
      for (const tool of [...ESCAPES, ...NOISE]) {
        // Pin each hostile call to worker a through a session, probe worker b through another.
        await pit.execute(tool, {}, { sessionId: "bad", timeoutMs: 20_000 });
      }
      const pids = new Set<number>();
      for (let i = 0; i < 20; i++) pids.add(await pit.execute<number>("pid", {}, { timeoutMs: 20_000 }));
      expect([...pids].sort(byNumber)).toEqual([a!.pid, b!.pid].sort(byNumber));
      expect(pit.listWorkers().map((w) => w.pid).sort(byNumber)).toEqual([a!.pid, b!.pid].sort(byNumber));
      expect(pit.stats().pools.default!.crashes).toBe(0);
    }, 60_000);

    for (const profile of ["process", "thread"] as const) {
      test(`${profile} profile: a tool that forks and returns: the copy leaves at once, never reads or answers a request`, async () => {
        // The copy went on leading the worker's loop: it took requests from the host's pipe and
        // answered them with its own pid (or sat stuck on a lock its missing threads held).
        await using pit = await Snakepit.start({ adapter: HOSTILE, poolSize: 1, python: PYTHON, startMode: mode, workerProfile: profile, threadsPerWorker: 4 });
        const worker = pit.listWorkers()[0]!.pid;
        for (let round = 0; round < 3; round++) {
          expect(await pit.execute("fork_and_return")).toBe(worker);
          const answers = await Promise.all(Array.from({ length: 40 }, () => pit.execute<number>("pid", {}, { timeoutMs: 20_000 })));
          expect(new Set(answers)).toEqual(new Set([worker]));
        }
        expect(await waitUntil(() => pidsOfRun(pit.runId).length === processesOf(pit).length, 10_000)).toBe(true);
        expect(pidsOfRun(pit.runId).sort(byNumber)).toEqual(processesOf(pit));
        expect(pit.stats().pools.default).toMatchObject({ crashes: 0, failed: 0 });
      }, 60_000);
    }
  });
}

describe.skipIf(process.platform !== "linux")("a tool kills the template its worker was forked from", () => {
  test("the workers keep serving; a crash afterwards is replaced from a new template and reports its exact exit code", async () => {
    await using pit = await Snakepit.start({ adapter: HOSTILE, poolSize: 2, python: PYTHON, startMode: "fork" });
    const before = pit.listWorkers().map((w) => w.pid).sort(byNumber);
    const template = await pit.execute<number>("kill_parent");
    expect(template).toBe(pit.stats().pools.default!.templatePid ?? template);
    expect(await waitUntil(() => !isAlive(template), 5_000)).toBe(true);
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) seen.add(await pit.execute<number>("pid", {}, { timeoutMs: 20_000 }));
    expect([...seen].sort(byNumber)).toEqual(before);
    const err = await failure(pit.execute("crash", {}, { timeoutMs: 20_000 }));
    expect(err.code).toBe("worker_crashed");
    // With the template gone, its keeper (the pool's subreaper) adopted the worker and reports its exact exit.
    expect(err.message).toContain("exited with code 7");
    expect(await waitUntil(() => pit.listWorkers().filter((w) => w.state === "ready").length === 2, 20_000)).toBe(true);
    const fresh = pit.stats().pools.default!.templatePid;
    expect(fresh).toBeNumber();
    expect(fresh).not.toBe(template);
    expect(pidsOfRun(pit.runId).sort(byNumber)).toEqual(processesOf(pit));
  }, 60_000);
});

describe("snakepit serve, SIGTERMed after hostile tools ran over HTTP", () => {
  for (const mode of MODES) {
    test(`${mode}: the server stops, and nothing it or its tools started is left`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "snakepit-hostile-"));
      const config = join(dir, "snakepit.toml");
      writeFileSync(config, `adapter = "${HOSTILE}"\npoolSize = 2\nstartMode = "${mode}"\n[server]\nport = 0\n`);
      const server = await startServer([process.execPath, `${ROOT}src/cli/main.ts`, "serve", "--config", config, "--instance", `hostile-serve-${process.pid}-${mode}`]);
      const call = async (tool: string) => {
        const res = await fetch(`${server.url}/v1/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ tool, args: {} }) });
        return ((await res.json()) as { result: unknown }).result;
      };
      const workers = ((await (await fetch(`${server.url}/v1/workers`)).json()) as { workers: Array<{ pid: number }> }).workers.map((w) => w.pid);
      const escaped: number[] = [];
      for (const tool of ESCAPES) escaped.push((await call(tool)) as number);
      for (const tool of NOISE) await call(tool);
      const runId = readRunId(workers[0]!);
      const all = [...workers, ...escaped];
      expect(all.every(isAlive)).toBe(true);
      server.proc.kill("SIGTERM");
      expect(await server.proc.exited).toBe(0);
      expect(await allGone(all, runId)).toEqual({ left: [], run: [] });
      rmSync(dir, { recursive: true, force: true });
    }, 60_000);
  }
});

function readRunId(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  return args[args.indexOf("--run-id") + 1]!;
}

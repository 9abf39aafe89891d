// A forked worker ends with the same exit status and crash kind as a spawned one: its template
// reaps it and reports the code or signal, and after the template's death its keeper does. Only
// if both are dead: a Python-level exit still reports its code, and a death by signal is
// reported as unknown, with the reason, never silently.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Snakepit } from "../../src/mod.ts";
import type { CrashInfo } from "../../src/resilience/crash.ts";
import { fixture, PYTHON } from "../helpers.ts";

interface Exit {
  worker: string;
  pid: number;
  exitCode: number | null;
  signal: string | null;
  expected: boolean;
  crash?: CrashInfo | undefined;
}

type Mode = "fork" | "spawn";

async function withPool(mode: Mode, body: (pit: Snakepit, nextExit: () => Promise<Exit>) => Promise<void>): Promise<void> {
  const exits: Exit[] = [];
  const waiters: Array<(e: Exit) => void> = [];
  await using pit = await Snakepit.start(
    { adapter: fixture("exits.py"), poolSize: 1, python: PYTHON, startMode: mode, crashBarrier: { maxRetries: 0 } },
    { on: { "worker.exited": (e: Exit) => (waiters.length ? waiters.shift()!(e) : exits.push(e)) } },
  );
  const nextExit = () => (exits.length ? Promise.resolve(exits.shift()!) : new Promise<Exit>((r) => waiters.push(r)));
  await body(pit, nextExit);
}

/** What the host saw when the pool's one worker ended in the way `end` makes it. */
async function endOnce(mode: Mode, end: (pit: Snakepit) => Promise<unknown>): Promise<{ exitCode: number | null; signal: string | null; kind: string | undefined; message: string }> {
  let seen!: { exitCode: number | null; signal: string | null; kind: string | undefined; message: string };
  await withPool(mode, async (pit, nextExit) => {
    const err = await end(pit).then(() => undefined, (e: Error) => e);
    const exit = await nextExit();
    seen = { exitCode: exit.exitCode, signal: exit.signal, kind: exit.crash?.kind, message: err?.message.split(";")[0]!.replace(/ \(pid \d+\)/, "") ?? "" };
  });
  return seen;
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    const value = probe();
    if (value !== undefined) return value;
  }
  throw new Error("timed out waiting");
}

const parentOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
};

const killWorker = (sig: NodeJS.Signals) => async (pit: Snakepit) => process.kill(pit.listWorkers()[0]!.pid, sig);

describe.skipIf(process.platform !== "linux" || typeof Bun === "undefined")("exit status of forked workers", () => {
  const cases: Array<[string, (pit: Snakepit) => Promise<unknown>, { exitCode: number | null; signal: string | null; kind: string }]> = [
    ["a tool calling os._exit(3)", (pit) => pit.execute("exit_now", { code: 3 }), { exitCode: 3, signal: null, kind: "exit" }],
    ["SIGKILL from outside", killWorker("SIGKILL"), { exitCode: null, signal: "SIGKILL", kind: "signal" }],
    ["a segmentation fault in a tool", (pit) => pit.execute("segfault", {}), { exitCode: null, signal: "SIGSEGV", kind: "signal" }],
    ["SIGTERM from outside (the bridge leaves cleanly)", killWorker("SIGTERM"), { exitCode: 0, signal: null, kind: "exit" }],
    ["SIGUSR1 (no handler) from outside", killWorker("SIGUSR1"), { exitCode: null, signal: "SIGUSR1", kind: "signal" }],
  ];
  for (const [name, end, want] of cases) {
    test(`${name}: forked and spawned workers report the same status and crash kind`, async () => {
      const forked = await endOnce("fork", end);
      const spawned = await endOnce("spawn", end);
      expect({ exitCode: forked.exitCode, signal: forked.signal, kind: forked.kind }).toEqual(want);
      expect(forked).toEqual(spawned); // the call's error message too
    }, 60_000);
  }

  test("after the template's death its keeper reports exactly: a segfault is SIGSEGV", async () => {
    await withPool("fork", async (pit, nextExit) => {
      const template = pit.stats().pools.default!.templatePid!;
      const keeper = parentOf(template);
      expect(readFileSync(`/proc/${keeper}/comm`, "utf8").trim()).toBe("snakepit-keeper");
      process.kill(template, "SIGKILL");
      await waitFor(() => (pit.stats().pools.default!.templatePid === undefined ? true : undefined));
      const worker = pit.listWorkers()[0]!;
      expect(parentOf(worker.pid)).toBe(keeper); // adopted
      expect(await pit.execute("segfault", {}).catch((e: Error) => e.message)).toContain("was killed by SIGSEGV");
      expect(await nextExit()).toMatchObject({ pid: worker.pid, exitCode: null, signal: "SIGSEGV", crash: { kind: "signal" } });
    });
  }, 60_000);

  test("the keeper killed alone: the template still reports exactly, and forks replacements", async () => {
    await withPool("fork", async (pit, nextExit) => {
      const template = pit.stats().pools.default!.templatePid!;
      process.kill(parentOf(template), "SIGKILL");
      await new Promise((r) => setTimeout(r, 100));
      const worker = pit.listWorkers()[0]!;
      process.kill(worker.pid, "SIGKILL");
      expect(await nextExit()).toMatchObject({ pid: worker.pid, exitCode: null, signal: "SIGKILL", crash: { kind: "signal" } });
      const replacement = await waitFor(() => pit.listWorkers().find((w) => w.state === "ready" && w.pid !== worker.pid));
      expect(parentOf(replacement.pid)).toBe(template);
      expect(await pit.execute("exit_now", { code: 4 }).catch((e: Error) => e.message)).toContain("exited with code 4");
      expect(await nextExit()).toMatchObject({ pid: replacement.pid, exitCode: 4, signal: null });
      // The template's requests do not come through the dead keeper's stdin (the runtime closed
      // it): the pool still forks, and its workers still serve well past the template's wind-down.
      await new Promise((r) => setTimeout(r, 600));
      expect(pit.listWorkers().filter((w) => w.state === "ready")).toHaveLength(1);
      expect(await pit.execute("whoami", {})).toMatchObject({ comm: "default-3" });
    });
  }, 60_000);

  test("template and keeper both dead: os._exit(3) still reports code 3; SIGKILL is reported as unknown, with the reason", async () => {
    await withPool("fork", async (pit, nextExit) => {
      const orphan = async () => {
        const worker = await waitFor(() => pit.listWorkers().find((w) => w.state === "ready"));
        const template = await waitFor(() => pit.stats().pools.default!.templatePid);
        process.kill(parentOf(template), "SIGKILL");
        process.kill(template, "SIGKILL");
        await waitFor(() => (pit.stats().pools.default!.templatePid === undefined ? true : undefined));
        return worker;
      };
      const first = await orphan();
      expect(await pit.execute("exit_now", { code: 3 }).catch((e: Error) => e.message)).toContain("exited with code 3");
      const byCode = await nextExit();
      expect(byCode).toMatchObject({ pid: first.pid, exitCode: 3, signal: null, expected: false, crash: { kind: "exit", exitCode: 3 } });
      expect(byCode.crash!.statusNote).toBeUndefined();

      // Its replacement is forked from a new template (and keeper); orphan it the same way, then SIGKILL it.
      const second = await orphan();
      expect(second.pid).not.toBe(first.pid);
      expect(await pit.execute("whoami", {})).toMatchObject({ pid: second.pid }); // still serving
      process.kill(second.pid, "SIGKILL");
      const unknown = await nextExit();
      expect(unknown).toMatchObject({ pid: second.pid, exitCode: null, signal: null, expected: false, crash: { kind: "signal" } });
      expect(unknown.crash!.statusNote).toContain("exit status unknown: the worker outlived its preload template");
    });
  }, 60_000);
});

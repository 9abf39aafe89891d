// Each forked worker can be told apart from the template and from the others: /proc/<pid>/comm is
// its worker id and its command line reads like a spawned worker's (id and run id first), so
// `ps`, `top` and ops tools show which worker is which; the registry still finds every process.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Snakepit } from "../../src/mod.ts";
import { byNumber, fixture, pidsOfRun, processesOf, PYTHON } from "../helpers.ts";

const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, "utf8").trim();
const args = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);

describe.skipIf(process.platform !== "linux" || typeof Bun === "undefined")("identity of forked workers", () => {
  test("comm is the worker id (cut to 15 bytes keeping its number), cmdline a spawned worker's", async () => {
    await using pit = await Snakepit.start({
      pools: [{ name: "default", adapter: fixture("exits.py"), poolSize: 2 }, { name: "embeddings-gpu", adapter: fixture("exits.py"), poolSize: 1 }],
      python: PYTHON,
    });
    const workers = pit.listWorkers();
    expect(workers).toHaveLength(3);
    const template = pit.stats().pools.default!.templatePid!;
    expect(comm(template)).toBe("python3");
    for (const w of workers) {
      const name = w.id.length <= 15 ? w.id : `${w.id.slice(0, 15 - w.id.length + w.id.lastIndexOf("-"))}${w.id.slice(w.id.lastIndexOf("-"))}`;
      expect(comm(w.pid)).toBe(name);
      expect(args(w.pid).slice(0, 7)).toEqual([PYTHON, "-m", "snakepit_bridge", "--worker-id", w.id, "--run-id", pit.runId]);
      expect(args(w.pid)).not.toContain("snakepit_bridge.forkserver");
    }
    expect(comm(workers.find((w) => w.pool === "embeddings-gpu")!.pid)).toBe("embeddings-gp-1");
    // What the worker sees of itself, and what the registry sees of the run.
    expect(await pit.execute("whoami", {}, { pool: "embeddings-gpu" })).toMatchObject({ comm: "embeddings-gp-1" });
    expect(pidsOfRun(pit.runId).sort(byNumber)).toEqual(processesOf(pit));
    expect(await pit.cleanup()).toEqual([]);
  }, 60_000);

  test("spawned workers keep the interpreter's name and their own command line", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("exits.py"), poolSize: 1, python: PYTHON, startMode: "spawn" });
    const w = pit.listWorkers()[0]!;
    expect(comm(w.pid)).toBe("python3");
    expect(args(w.pid)).toContain(w.id);
  }, 60_000);
});

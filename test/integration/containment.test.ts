// No descendant outlives the host (issue 10 point 7): a setsid() child and a double-forked daemon
// started by a tool are gone within 1 s of a SIGKILL of the host, and after close(). Run with the
// cgroup (where the machine allows one) and with the subreaper fallback (SNAKEPIT_CGROUPS=off).
import { describe, expect, test } from "bun:test";
import { fixture, isAlive, PYTHON, waitUntil } from "../helpers.ts";
import { ownCgroupDir } from "../../src/runtime/cgroup.ts";

const HOST = fixture("escape-host.ts");

interface Started {
  runId: string;
  workers: number[];
  /** The template the workers were forked from (null when they were spawned): a process of the run too. */
  template: number | null;
  setsid: number;
  daemon: number;
  mode: string;
}

async function startHost(then: "serve" | "close", cgroups: boolean, instance?: string) {
  const host = Bun.spawn([process.execPath, HOST, fixture("escapes.py"), PYTHON, then, ...(instance ? [instance] : [])], {
    env: { ...process.env, SNAKEPIT_CGROUPS: cgroups ? "on" : "off" },
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = host.stdout.getReader();
  let out = "";
  const lines = async (n: number) => {
    while (out.split("\n").length <= n) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the host exited early: ${out}`);
      out += new TextDecoder().decode(value);
    }
    return out.split("\n");
  };
  const started = JSON.parse((await lines(1))[0]!) as Started;
  return { host, started, lines };
}

const canCgroup = ownCgroupDir() !== undefined;

for (const cgroups of [true, false]) {
  const name = cgroups ? "cgroup" : "subreaper";
  describe(`containment (${name})`, () => {
    const skip = cgroups && !canCgroup;
    if (skip) console.log("skipped: no writable cgroup v2 here; the subreaper tests still run");

    test.skipIf(skip)("a setsid child and a double-forked daemon die within 1 s of a host SIGKILL", async () => {
      const { host, started } = await startHost("serve", cgroups);
      expect(started.mode).toBe(name);
      const all = [...started.workers, ...(started.template ? [started.template] : []), started.setsid, started.daemon];
      expect(all.every(isAlive)).toBe(true);
      host.kill("SIGKILL");
      await host.exited;
      const t0 = performance.now();
      const gone = await waitUntil(() => !all.some(isAlive), 1_000, 10);
      const left = all.filter(isAlive);
      for (const pid of left) process.kill(pid, "SIGKILL"); // never leave them to the next test
      expect({ gone, left, ms: Math.round(performance.now() - t0) < 1_000 }).toEqual({ gone: true, left: [], ms: true });
    }, 30_000);

    test.skipIf(skip)("and after a normal close()", async () => {
      const { host, started, lines } = await startHost("close", cgroups);
      expect((await lines(2))[1]).toBe("closed");
      const all = [...started.workers, ...(started.template ? [started.template] : []), started.setsid, started.daemon];
      const gone = await waitUntil(() => !all.some(isAlive), 1_000, 10);
      const left = all.filter(isAlive);
      for (const pid of left) process.kill(pid, "SIGKILL");
      expect({ gone, left }).toEqual({ gone: true, left: [] });
      await host.exited;
    }, 30_000);

    test.skipIf(!cgroups || skip)("a worker SIGKILLed alone takes its setsid child and daemon with it (the host kills its cgroup)", async () => {
      const { host, started } = await startHost("serve", cgroups);
      try {
        const [worker] = started.workers;
        process.kill(worker!, "SIGKILL");
        const gone = await waitUntil(() => !isAlive(started.setsid) && !isAlive(started.daemon), 1_000, 10);
        for (const pid of [started.setsid, started.daemon]) if (isAlive(pid)) process.kill(pid, "SIGKILL");
        expect(gone).toBe(true);
      } finally {
        host.kill("SIGTERM");
        await host.exited;
      }
    }, 30_000);

    test.skipIf(skip)("what a worker killed with its host could not reap, the next start of the instance sweeps", async () => {
      const instance = `sweep-${name}-${process.pid}`;
      const first = await startHost("serve", cgroups, instance);
      const { setsid, daemon, template } = first.started;
      // Every process of the run dies with the host and gets no chance to clean up: the workers
      // and the template they were forked from (which would otherwise kill their descendants).
      const run = [...first.started.workers, ...(template ? [template] : [])];
      for (const pid of run) process.kill(pid, "SIGSTOP");
      first.host.kill("SIGKILL");
      await first.host.exited;
      for (const pid of run) process.kill(pid, "SIGKILL");
      expect(await waitUntil(() => !run.some(isAlive), 2_000)).toBe(true);
      expect([isAlive(setsid), isAlive(daemon)]).toEqual([true, true]);
      const second = await startHost("close", cgroups, instance);
      const gone = await waitUntil(() => !isAlive(setsid) && !isAlive(daemon), 1_000, 10);
      for (const pid of [setsid, daemon]) if (isAlive(pid)) process.kill(pid, "SIGKILL");
      expect(gone).toBe(true);
      expect((await second.lines(2))[1]).toBe("closed");
      await second.host.exited;
    }, 30_000);
  });
}

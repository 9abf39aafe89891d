// Preloaded workers keep the containment of spawned ones: when the host is SIGKILLed, the template
// must not SIGKILL its workers before their trees are gone, or setsid() children and
// double-forked daemons outlive everything (with the cgroup and with the subreaper fallback).
import { describe, expect, test } from "bun:test";
import { ownCgroupDir } from "../../src/runtime/cgroup.ts";
import { fixture, isAlive, PYTHON, waitUntil } from "../helpers.ts";

const canCgroup = ownCgroupDir() !== undefined;

describe.skipIf(process.platform !== "linux")("preload containment", () => {
  for (const cgroups of [true, false]) {
    const skip = cgroups && !canCgroup;
    if (skip) console.log("skipped: no writable cgroup v2 here; the subreaper case still runs");
    test.skipIf(skip)(`${cgroups ? "cgroup" : "subreaper"}: setsid children and daemons of forked workers die with a SIGKILLed host`, async () => {
      const host = Bun.spawn([process.execPath, fixture("preload-escape-host.ts"), fixture("escapes.py"), PYTHON], {
        env: { ...process.env, SNAKEPIT_CGROUPS: cgroups ? "on" : "off" },
        stdout: "pipe",
        stderr: "inherit",
      });
      const reader = host.stdout.getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the host exited early: ${out}`);
        out += new TextDecoder().decode(value);
      }
      const { pids } = JSON.parse(out) as { pids: number[] };
      expect(pids.every(isAlive)).toBe(true);
      host.kill("SIGKILL");
      await host.exited;
      const gone = await waitUntil(() => !pids.some(isAlive), 2_000, 10);
      const left = pids.filter(isAlive);
      for (const pid of left) process.kill(pid, "SIGKILL"); // never leave them to the next test
      expect({ gone, left }).toEqual({ gone: true, left: [] });
    }, 60_000);
  }
});

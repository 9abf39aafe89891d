// The lifeline holds whatever happened to the template: a worker that outlived its template (an
// orphan, re-parented to the template's keeper), the keepers, and one forked from the template's replacement all exit when the
// host is SIGKILLed, and no Python process of the run remains.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { fixture, PYTHON, ROOT } from "../helpers.ts";

/** Live (non-zombie) processes carrying the run id on their command line or in their environment. */
function processesOfRun(runId: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const args = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      const env = readFileSync(`/proc/${e}/environ`, "utf8").split("\0");
      if (args[args.indexOf("--run-id") + 1] === runId || env.includes(`SNAKEPIT_RUN_ID=${runId}`)) out.push(Number(e));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

const parentOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
};

describe.skipIf(process.platform !== "linux" || typeof Bun === "undefined")("lifeline of forked workers", () => {
  test("template SIGKILLed, then the host SIGKILLed: the orphaned worker, the new template and its worker all exit", async () => {
    const host = Bun.spawn([process.execPath, `${ROOT}test/fixtures/fork-orphan-host.ts`, fixture("exits.py"), PYTHON], { stdout: "pipe", stderr: "inherit" });
    let line = "";
    const reader = host.stdout.getReader();
    while (!line.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      line += new TextDecoder().decode(value);
    }
    const info = JSON.parse(line) as { runId: string; orphan: number; replacement: number; oldTemplate: number; newTemplate: number };
    const [oldKeeper, newKeeper] = [parentOf(info.orphan), parentOf(info.newTemplate)]; // re-parented to its template's keeper
    expect(readFileSync(`/proc/${oldKeeper}/comm`, "utf8").trim()).toBe("snakepit-keeper");
    expect(parentOf(info.replacement)).toBe(info.newTemplate);
    expect(processesOfRun(info.runId).sort()).toEqual([info.orphan, info.replacement, info.newTemplate, oldKeeper, newKeeper].sort());
    host.kill("SIGKILL");
    await host.exited;
    const until = Date.now() + 15_000;
    while (processesOfRun(info.runId).length && Date.now() < until) await Bun.sleep(50);
    expect(processesOfRun(info.runId)).toEqual([]);
  }, 60_000);
});

/**
 * A persisted record of this instance's worker processes, one file per live host run under
 * `<stateDir>/instances/<instance>/`. At start, runs whose host is dead have their leftover
 * workers killed (process group, SIGTERM then SIGKILL), each checked first by the `--run-id`
 * on its command line; runs whose host is alive (another live instance) are never touched.
 *
 * Where the machine allows it, each run also owns a cgroup (one child per worker): a worker that
 * exits takes every process it started with it, daemons that left its process group included,
 * and so does the run at close. The sweep kills dead runs' cgroups, and any process still
 * carrying a dead run's `SNAKEPIT_RUN_ID` in its environment (where there is no cgroup).
 */

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRunCgroup, destroyCgroup, destroyCgroupNow, isPopulated, runCgroups } from "../runtime/cgroup.ts";
import { cmdline, pidsWithEnv, startTime } from "../runtime/procfs.ts";

/** A worker id as a cgroup directory name (the Python side names it the same way). */
export function cgroupName(workerId: string): string {
  return workerId.replace(/[^A-Za-z0-9_.-]/g, "_");
}

/** One host run as its file records it. */
export interface RunRecord {
  instance: string;
  runId: string;
  hostPid: number;
  /** The host's start time (clock ticks), so a reused pid is not taken for it. */
  hostStart: number | undefined;
  startedAt: string;
  workers: Array<{ id: string; pid: number }>;
}

const SAFE = /^[A-Za-z0-9_.-]{1,64}$/;

function isRecord(r: RunRecord): boolean {
  return SAFE.test(String(r.runId)) && Number.isInteger(r.hostPid) && Array.isArray(r.workers) &&
    r.workers.every((w) => Number.isInteger(w.pid) && w.pid > 1);
}

function kill(target: number, signal: "SIGTERM" | "SIGKILL"): void {
  try {
    process.kill(target, signal);
  } catch {
    // Gone already.
  }
}

/** True when `pid` still runs with `--run-id runId` on its command line. */
function isWorkerOf(pid: number, runId: string): boolean {
  const args = cmdline(pid);
  if (!args || startTime(pid) === undefined) return false;
  const at = args.indexOf("--run-id");
  return at >= 0 && args[at + 1] === runId;
}

function isHostAlive(record: RunRecord): boolean {
  const start = startTime(record.hostPid);
  if (start === undefined) return false;
  return record.hostStart === undefined || record.hostStart === start;
}

export class ProcessRegistry {
  readonly dir: string;
  /** This run's cgroup, when the machine allows one. */
  readonly cgroup: string | undefined;
  readonly #file: string;
  readonly #record: RunRecord;

  /** `cgroups`: contain workers in a cgroup where possible. @default true unless SNAKEPIT_CGROUPS=off */
  constructor(stateDir: string, instance: string, runId: string, options: { cgroups?: boolean } = {}) {
    if (!SAFE.test(instance)) throw new Error(`instance name "${instance}" must be 1–64 letters, digits, _ . -`);
    const cgroups = options.cgroups ?? process.env.SNAKEPIT_CGROUPS !== "off";
    this.cgroup = cgroups ? createRunCgroup(instance, runId) : undefined;
    this.dir = join(stateDir, "instances", instance);
    this.#file = join(this.dir, `${runId}.json`);
    this.#record = {
      instance,
      runId,
      hostPid: process.pid,
      hostStart: startTime(process.pid),
      startedAt: new Date().toISOString(),
      workers: [],
    };
  }

  /** Other runs of this instance, as recorded. */
  runs(): RunRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith(".json"));
    } catch {
      return [];
    }
    const out: RunRecord[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      if (path === this.#file) continue;
      try {
        const record = JSON.parse(readFileSync(path, "utf8")) as RunRecord;
        if (!isRecord(record) || `${record.runId}.json` !== name) throw new Error("not a run record");
        out.push(record);
      } catch {
        rmSync(path, { force: true }); // a torn or foreign file: nothing to act on
      }
    }
    return out;
  }

  /**
   * Kill the workers left by dead runs of this instance; returns their pids. Live runs are
   * left alone. Waits up to `graceMs` between SIGTERM and SIGKILL.
   */
  async sweepDeadRuns(graceMs = 1_000): Promise<number[]> {
    const killed: number[] = [];
    for (const run of this.runs()) {
      if (isHostAlive(run)) continue;
      const left = run.workers.map((w) => w.pid).filter((pid) => isWorkerOf(pid, run.runId));
      for (const pid of left) kill(-pid, "SIGTERM"); // each worker leads its own process group
      const until = Date.now() + graceMs;
      while (left.some((pid) => isWorkerOf(pid, run.runId)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      // SIGKILL each group even if its leader is gone: members that ignore SIGTERM die too (a
      // group id is not reused while members live). The pid alone only after checking it again.
      for (const pid of left) {
        kill(-pid, "SIGKILL");
        if (isWorkerOf(pid, run.runId)) kill(pid, "SIGKILL");
      }
      killed.push(...left);
      killed.push(...this.#sweepRun(run.runId));
      rmSync(join(this.dir, `${run.runId}.json`), { force: true });
    }
    // Run cgroups whose host died: ours are killed; another instance's only removed when empty
    // (its host may live in another pid namespace, where we cannot see it).
    for (const run of runCgroups()) {
      if (run.runId === this.#record.runId || startTime(run.hostPid) !== undefined) continue;
      if (run.instance === this.#record.instance || !isPopulated(run.dir)) destroyCgroup(run.dir);
    }
    return killed;
  }

  /** Kill what a dead run left outside its workers' process groups: its cgroup, its env-marked processes. */
  #sweepRun(runId: string): number[] {
    const dir = runCgroups().find((c) => c.runId === runId)?.dir;
    if (dir) destroyCgroupNow(dir);
    const strays = pidsWithEnv("SNAKEPIT_RUN_ID", runId);
    for (const pid of strays) kill(pid, "SIGKILL");
    return strays;
  }

  /** Environment every worker of this run gets: where to contain itself. */
  workerEnv(): Record<string, string> {
    return { SNAKEPIT_CGROUP: this.cgroup ?? "" };
  }

  #save(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.#record), { mode: 0o600 });
    renameSync(tmp, this.#file);
  }

  /** Record a started worker (before it can be orphaned by our own death). */
  add(id: string, pid: number): void {
    this.#record.workers.push({ id, pid });
    this.#save();
  }

  /** A worker exited: forget it, and kill whatever it started that still runs. */
  remove(id: string): void {
    if (this.cgroup) destroyCgroup(join(this.cgroup, cgroupName(id)));
    const i = this.#record.workers.findIndex((w) => w.id === id);
    if (i < 0) return;
    this.#record.workers.splice(i, 1);
    this.#save();
  }

  /** Our run ended cleanly: kill anything its workers left, drop its file. */
  close(): void {
    if (this.cgroup) destroyCgroupNow(this.cgroup);
    rmSync(this.#file, { force: true });
  }
}

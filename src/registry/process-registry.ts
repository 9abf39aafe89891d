/**
 * A persisted record of this instance's worker processes, one file per live host run under
 * `<stateDir>/instances/<instance>/`. At start, runs whose host is dead have their leftover
 * workers killed (process group, SIGTERM then SIGKILL), each checked first by the `--run-id`
 * on its command line; runs whose host is alive (another live instance) are never touched.
 */

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cmdline, startTime } from "../runtime/procfs.ts";

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
  readonly #file: string;
  readonly #record: RunRecord;

  constructor(stateDir: string, instance: string, runId: string) {
    if (!SAFE.test(instance)) throw new Error(`instance name "${instance}" must be 1–64 letters, digits, _ . -`);
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
      rmSync(join(this.dir, `${run.runId}.json`), { force: true });
    }
    return killed;
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

  remove(id: string): void {
    const i = this.#record.workers.findIndex((w) => w.id === id);
    if (i < 0) return;
    this.#record.workers.splice(i, 1);
    this.#save();
  }

  /** Our run ended cleanly: drop its file. */
  close(): void {
    rmSync(this.#file, { force: true });
  }
}

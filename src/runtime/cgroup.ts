/**
 * cgroup v2 containment (Linux): a cgroup per host run, one child per worker, so that a worker's
 * whole tree (daemons that called setsid() or double-forked included) can be killed at once
 * through `cgroup.kill` (kernel 5.14+). Everything here answers `undefined`/`false` instead of
 * throwing where the machine does not allow it (no cgroup v2, no write access, old kernel): the
 * Python side then falls back to making each worker a child subreaper.
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const PREFIX = "snakepit@";
const NAME = /^snakepit@([A-Za-z0-9_.-]+)@([A-Za-z0-9_.-]+)@(\d+)$/;

/** A run cgroup as its name records it: `snakepit@<instance>@<runId>@<host pid>`. */
export interface RunCgroup {
  dir: string;
  instance: string;
  runId: string;
  hostPid: number;
}

/** The cgroup v2 directory this process lives in, or undefined. */
export function ownCgroupDir(): string | undefined {
  try {
    const line = readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => l.startsWith("0::"));
    if (!line) return undefined;
    const path = line.slice(3).replace(/ \(deleted\)$/, "");
    for (const entry of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      const [left, right] = entry.split(" - ");
      if (!left || !right?.startsWith("cgroup2 ")) continue;
      const fields = left.split(" ");
      const root = fields[3]!;
      const mount = fields[4]!;
      if (root !== "/" && !path.startsWith(root)) continue;
      const dir = join(mount, root === "/" ? path : path.slice(root.length));
      if (existsSync(join(dir, "cgroup.procs"))) return dir;
    }
  } catch {
    // no /proc, or no cgroup v2
  }
  return undefined;
}

/** Create the cgroup of a host run; undefined when the machine does not let us (or lacks cgroup.kill). */
export function createRunCgroup(instance: string, runId: string): string | undefined {
  const base = ownCgroupDir();
  if (!base) return undefined;
  const dir = join(base, `${PREFIX}${instance}@${runId}@${process.pid}`);
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  if (!existsSync(join(dir, "cgroup.kill"))) {
    removeCgroup(dir);
    return undefined;
  }
  return dir;
}

/** Every run cgroup beside ours (any instance, any run). */
export function runCgroups(): RunCgroup[] {
  const base = ownCgroupDir();
  if (!base) return [];
  const out: RunCgroup[] = [];
  try {
    for (const name of readdirSync(base)) {
      const m = NAME.exec(name);
      if (m) out.push({ dir: join(base, name), instance: m[1]!, runId: m[2]!, hostPid: Number(m[3]) });
    }
  } catch {
    // unreadable: nothing to report
  }
  return out;
}

/** True while a process lives in the cgroup or below. */
export function isPopulated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(join(dir, "cgroup.events"), "utf8"));
  } catch {
    return false;
  }
}

/** SIGKILL every process in the cgroup and below (atomically for forks in flight). */
export function killCgroup(dir: string): boolean {
  try {
    writeFileSync(join(dir, "cgroup.kill"), "1");
    return true;
  } catch {
    return false;
  }
}

/** Remove a cgroup and its children (each must be empty); false when something still lives there. */
export function removeCgroup(dir: string): boolean {
  let ok = true;
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) ok = removeCgroup(join(dir, entry.name)) && ok;
    }
    rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") ok = false;
  }
  return ok;
}

/** Kill, then remove once empty: retried briefly in the background (dying takes a moment). */
export function destroyCgroup(dir: string, retries = 50): void {
  if (!existsSync(dir)) return;
  killCgroup(dir);
  if (removeCgroup(dir) || retries <= 0) return;
  const timer = setTimeout(() => destroyCgroup(dir, retries - 1), 20);
  (timer as { unref?: () => void }).unref?.();
}

/** Kill and wait (blocking, at most `waitMs`) until the cgroup is empty, then remove it. */
export function destroyCgroupNow(dir: string, waitMs = 500): boolean {
  if (!existsSync(dir)) return true;
  killCgroup(dir);
  const until = Date.now() + waitMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (isPopulated(dir) && Date.now() < until) Atomics.wait(pause, 0, 0, 5);
  return removeCgroup(dir);
}

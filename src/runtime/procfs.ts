/** Facts about processes from /proc (Linux). Other systems answer `undefined`: "cannot tell". */

import { readdirSync, readFileSync } from "node:fs";

/** Command-line arguments of `pid`, or undefined when unknown (gone, or no /proc). */
export function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return undefined;
  }
}

/** Start time of `pid` in clock ticks since boot (identifies a process across pid reuse). */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return undefined;
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** Resident memory of `pid` in bytes. */
export function rssBytes(pid: number): number | undefined {
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]);
    return pages * 4096;
  } catch {
    return undefined;
  }
}

/** Live pids whose command line has `--run-id <runId>`. */
export function pidsWithRunId(runId: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const args = cmdline(Number(e));
    const at = args?.indexOf("--run-id") ?? -1;
    if (at >= 0 && args![at + 1] === runId && startTime(Number(e)) !== undefined) out.push(Number(e));
  }
  return out;
}

/** Live pids whose environment holds `name=value` (processes of this user; others are unreadable). */
export function pidsWithEnv(name: string, value: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const needle = `${name}=${value}`;
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${e}/environ`, "latin1");
    } catch {
      continue;
    }
    if (env.split("\0").includes(needle) && startTime(Number(e)) !== undefined) out.push(Number(e));
  }
  return out;
}

/** Kills the OOM killer made in this process's cgroup so far, or undefined when unknown. */
export function oomKills(): number | undefined {
  try {
    const events = readFileSync("/sys/fs/cgroup/memory.events", "utf8");
    const m = /^oom_kill (\d+)$/m.exec(events);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

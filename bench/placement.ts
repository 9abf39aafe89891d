/**
 * CPU placement for the bench. A sequential ping-pong between the host and one Python process
 * costs ~17 µs when both sit on the same core of this VM and ~70–80 µs when they sit on different
 * cores (each wake-up of an idle vCPU is an inter-processor interrupt). Left to the scheduler,
 * the placement flips between rounds and between contenders: that is what made the old README's
 * "0.91× the raw pipe" (the raw pipe's p50 happened to be measured cross-core, snakepit's
 * same-core). So every contender is placed the same way, explicitly:
 * the bench host on CPU 0; single-process rows pin the Python side to `SAME_CORE` (latency) or
 * `OTHER_CORE` (streams, bulk); multi-process rows leave Python on every CPU.
 */

import { readdirSync, readFileSync } from "node:fs";

const cpus = navigator.hardwareConcurrency ?? 1;
const hasTaskset = Bun.spawnSync(["sh", "-c", "command -v taskset"]).exitCode === 0;
/** True when placement can be enforced (Linux, taskset, ≥ 2 CPUs). */
export const canPin = hasTaskset && cpus >= 2 && process.platform === "linux";
export const HOST_CPU = "0";
export const SAME_CORE = "0";
export const OTHER_CORE = "1";
export const ALL_CPUS = `0-${cpus - 1}`;

/** Pin the process `pid` (all its threads) to `cpuList`; no-op where placement is not enforced. */
export function pin(pid: number, cpuList: string): void {
  if (!canPin) return;
  Bun.spawnSync(["taskset", "-a", "-p", "-c", cpuList, String(pid)], { stdout: "ignore", stderr: "ignore" });
}

/** Every live descendant of `root` (children, grandchildren, ...). */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parent) {
      if (ppid === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

/** Pin `pid` and all its descendants. */
export function pinTree(pid: number, cpuList: string): void {
  for (const p of [pid, ...descendants(pid)]) pin(p, cpuList);
}

/**
 * Place the bench host: on HOST_CPU for single-worker rows, on every CPU for multi-worker rows
 * (pinning all of Bun's threads to one core halves snakepit's 2-worker throughput).
 */
export function hostOn(cpuList: string): void {
  pin(process.pid, cpuList);
}

/** Say how placement is handled. */
export function pinSelf(): void {
  console.log(canPin ? `placement: host on CPU ${HOST_CPU}, Python placed per row (see bench/README.md)` : "placement: not enforced (needs Linux, taskset and ≥ 2 CPUs): latency figures will be bimodal");
}

/**
 * Start-up A/B of `startMode`: a pool of 1 and of 8 workers started, one call answered, closed;
 * `spawn` against the default (`auto`: forked from a bridge-only template on Bun/Linux), in
 * alternating rounds. Prints medians (min–max) of wall time to the answer, and of the CPU the
 * whole thing cost (host + its reaped descendants, start to close: far less load-sensitive).
 * `BENCH_ROUNDS` (default 7). Does not write results or the README.
 */

import { readFileSync } from "node:fs";
import { Snakepit } from "../src/mod.ts";
import { benchPython } from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const python = benchPython();
const adapter = new URL("./adapters/bench.py", import.meta.url).pathname;

/** CPU ms of this process and its waited-for descendants (utime, stime, cutime, cstime). */
function cpuMs(): number {
  const raw = readFileSync("/proc/self/stat", "utf8");
  const f = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
}

async function once(n: number, startMode: "auto" | "spawn"): Promise<{ ms: number; cpu: number }> {
  const c0 = cpuMs();
  const t0 = performance.now();
  const pit = await Snakepit.start({ adapter, poolSize: n, python, startMode });
  await pit.execute("add", { a: 1, b: 1 });
  const ms = performance.now() - t0;
  await pit.close();
  await Bun.sleep(50); // let the last exits be reaped into cutime
  return { ms, cpu: cpuMs() - c0 };
}

const runs: Record<string, { ms: number[]; cpu: number[] }> = {};
await once(1, "auto"); // warm caches
await once(1, "spawn");
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of r % 2 ? (["spawn", "auto"] as const) : (["auto", "spawn"] as const)) {
    for (const n of [1, 8]) {
      const { ms, cpu } = await once(n, mode);
      const k = `${mode} ${n}`;
      (runs[k] ??= { ms: [], cpu: [] }).ms.push(ms);
      runs[k]!.cpu.push(cpu);
    }
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `${med(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
console.log(`load average: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}; ${ROUNDS} alternating rounds, ${python}`);
for (const [k, v] of Object.entries(runs)) console.log(`${k.padEnd(8)} wall ms ${fmt(v.ms)}  cpu ms ${fmt(v.cpu)}`);
for (const mode of ["auto", "spawn"]) {
  const one = runs[`${mode} 1`]!;
  const eight = runs[`${mode} 8`]!;
  console.log(`${mode}: 8 workers + call / 1 worker + call = ${(med(eight.ms) / med(one.ms)).toFixed(2)}× wall, ${(med(eight.cpu) / med(one.cpu)).toFixed(2)}× cpu`);
}

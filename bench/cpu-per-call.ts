/**
 * CPU time per small call, host and Python apart, with 64 calls in flight over 2 workers (and a
 * sequential p50 with one worker on the host's core): far less load-sensitive than wall-clock
 * rates on a shared machine. `raw` runs the tight raw 2-pipe the same way, for the floor.
 * `bun bench/cpu-per-call.ts [snakepit|raw] [rounds]`.
 */

import { readFileSync } from "node:fs";
import { Snakepit } from "../src/mod.ts";
import { benchPython, round, sequential } from "./lib.ts";
import { RawPipe } from "./contenders/raw.ts";
import { ALL_CPUS, HOST_CPU, hostOn, pin, pinSelf, SAME_CORE } from "./placement.ts";

const python = benchPython();
const adapter = new URL("./adapters/bench.py", import.meta.url).pathname;
const startMode = (process.env.START_MODE ?? "auto") as "auto" | "spawn";
const who = process.argv[2] ?? "snakepit";
const rounds = Number(process.argv[3] ?? 3);
const TOTAL = Number(process.env.BENCH_TOTAL ?? 40_000);
const tick = 100; // USER_HZ on Linux

function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / tick;
}

/** CPU time of the main (JS) thread only, ms: GC helper and JIT threads vary far more run to run. */
const mainCpuMs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;

const hostCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function measure(call: (i: number) => Promise<unknown>, pids: number[]): Promise<{ rate: number; hostUs: number; mainUs: number; pyUs: number }> {
  for (let i = 0; i < 2000; i++) await call(i);
  let next = 0;
  const h0 = hostCpuMs();
  const m0 = mainCpuMs();
  const p0 = pids.reduce((s, p) => s + procCpuMs(p), 0);
  const t = performance.now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < TOTAL) await call(next++);
  }));
  const ms = performance.now() - t;
  const hostUs = ((hostCpuMs() - h0) * 1000) / TOTAL;
  const mainUs = ((mainCpuMs() - m0) * 1000) / TOTAL;
  const pyUs = ((pids.reduce((s, p) => s + procCpuMs(p), 0) - p0) * 1000) / TOTAL;
  return { rate: round(TOTAL / (ms / 1000), 0), hostUs: round(hostUs), mainUs: round(mainUs), pyUs: round(pyUs) };
}

pinSelf();
for (let r = 0; r < rounds; r++) {
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  if (who === "raw") {
    hostOn(HOST_CPU);
    const one = new RawPipe(python, SAME_CORE);
    const p50 = (await sequential((i) => one.call(i), 3000)).p50Us;
    await one.close();
    hostOn(ALL_CPUS);
    const two = [new RawPipe(python, ALL_CPUS), new RawPipe(python, ALL_CPUS)];
    const m = await measure((i) => two[i % 2]!.call(i), two.map((p) => p.proc.pid));
    await Promise.all(two.map((p) => p.close()));
    console.log(JSON.stringify({ who, p50, ...m, load }));
  } else {
    hostOn(HOST_CPU);
    let p50 = 0;
    if (!process.env.SKIP_P50) {
      await using pit = await Snakepit.start({ adapter, poolSize: 1, python });
      for (const w of pit.listWorkers()) pin(w.pid, SAME_CORE);
      p50 = (await sequential((i) => pit.execute("add", { a: i, b: 1 }), 3000)).p50Us;
    }
    hostOn(ALL_CPUS);
    if (process.env.SKIP_TP) {
      console.log(JSON.stringify({ who, p50, load }));
      continue;
    }
    await using pit = await Snakepit.start({ adapter, poolSize: 2, python, startMode, ...(process.env.PREFETCH ? { prefetch: Number(process.env.PREFETCH) } : {}) });
    const pids = pit.listWorkers().map((w) => w.pid);
    for (const p of pids) pin(p, ALL_CPUS);
    const m = await measure((i) => pit.execute("add", { a: i, b: 1 }), pids);
    console.log(JSON.stringify({ who, p50, ...m, load }));
  }
}

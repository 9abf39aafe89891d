/**
 * Memory (issue #12): the RSS of an idle worker and of the host running a pool of 8.
 *
 * Each round starts a fresh host process (`bun bench/memory.ts --host`) that imports only the
 * module API (src/mod.ts), as an embedding program does, and reports: its RSS with 8 idle workers
 * (ready, then 500 ms quiet), each worker's RSS and PSS, and its RSS again after 20 k calls
 * (16 k with 64 in flight, 4 k one at a time). Readings follow a full GC (`Bun.gc(true)`).
 * Medians (range) of BENCH_ROUNDS rounds (default 5). Targets: idle worker ≤ 20 MB RSS, host
 * ≤ 80 MB RSS with 8 workers.
 */

import { readFileSync } from "node:fs";
import { benchPython, round, saveResults } from "./lib.ts";
import { updateReadme } from "./readme-table.ts";
import { median } from "./stats.ts";

const status = (pid: number | "self", field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
const pssKb = (pid: number) => Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? Number.NaN);

interface HostReading {
  hostBeforeKb: number;
  hostIdleKb: number;
  hostAfterCallsKb: number;
  workerRssKb: number[];
  workerPssKb: number[];
}

/** In the child: one pool of 8, readings on stdout as one JSON line. */
async function host(python: string): Promise<void> {
  const hostBeforeKb = status("self", "VmRSS");
  const { Snakepit } = await import("../src/mod.ts");
  const adapter = new URL("./adapters/bench.py", import.meta.url).pathname;
  const pit = await Snakepit.start({ adapter, poolSize: 8, python });
  await pit.execute("add", { a: 1, b: 1 });
  await Bun.sleep(500);
  Bun.gc(true);
  const pids = pit.listWorkers().map((w) => w.pid);
  const hostIdleKb = status("self", "VmRSS");
  const workerRssKb = pids.map((p) => status(p, "VmRSS"));
  const workerPssKb = pids.map(pssKb);
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < 16_000) await pit.execute("add", { a: next++, b: 1 });
  }));
  for (let i = 0; i < 4_000; i++) await pit.execute("add", { a: i, b: 1 });
  Bun.gc(true);
  const reading: HostReading = { hostBeforeKb, hostIdleKb, hostAfterCallsKb: status("self", "VmRSS"), workerRssKb, workerPssKb };
  await pit.close();
  console.log(JSON.stringify(reading));
}

async function main(): Promise<void> {
  const python = benchPython();
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const rows: Record<string, number[]> = {};
  const add = (k: string, kb: number) => (rows[k] ??= []).push(kb / 1024);
  for (let r = 0; r < rounds; r++) {
    const child = Bun.spawn([process.execPath, import.meta.path, "--host"], { env: { ...process.env, SNAKEPIT_BENCH_PYTHON: python }, stdout: "pipe", stderr: "inherit" });
    const out = await new Response(child.stdout).text();
    if ((await child.exited) !== 0) throw new Error(`memory round ${r + 1} failed: ${out}`);
    const reading = JSON.parse(out.trim().split("\n").pop()!) as HostReading;
    add("hostBeforeMB", reading.hostBeforeKb);
    add("hostIdle8MB", reading.hostIdleKb);
    add("hostAfterCallsMB", reading.hostAfterCallsKb);
    add("workerIdleRssMB", median(reading.workerRssKb));
    add("workerIdlePssMB", median(reading.workerPssKb));
    console.log(`round ${r + 1}: host ${round(reading.hostIdleKb / 1024)} MB idle, ${round(reading.hostAfterCallsKb / 1024)} MB after calls; worker RSS ${round(median(reading.workerRssKb) / 1024)} MB, PSS ${round(median(reading.workerPssKb) / 1024)} MB`);
  }
  const figures = Object.fromEntries(Object.entries(rows).map(([k, xs]) => [k, { median: round(median(xs)), min: round(Math.min(...xs)), max: round(Math.max(...xs)), values: xs.map((x) => round(x)) }]));
  const m = (k: string) => figures[k]!.median;
  const hostWorst = Math.max(m("hostIdle8MB"), m("hostAfterCallsMB"));
  const results = {
    date: new Date().toISOString(),
    python,
    machine: `${navigator.hardwareConcurrency} CPUs, shared with other work while measured`,
    rounds,
    adapter: "bench/adapters/bench.py, pool of 8, module API (src/mod.ts) in a fresh host process per round",
    figures,
    targets: [
      { target: "idle worker RSS ≤ 20 MB", value: `${m("workerIdleRssMB")} MB`, met: m("workerIdleRssMB") <= 20 },
      { target: "host RSS with 8 workers (idle and after 20 k calls) ≤ 80 MB", value: `${hostWorst} MB`, met: hostWorst <= 80 },
    ],
  };
  for (const t of results.targets) console.log(`${t.met ? "met    " : "NOT MET"} ${t.target}: ${t.value}`);
  console.log("->", saveResults(rounds >= 5 ? "memory" : "memory-smoke", results));
  if (rounds >= 5) updateReadme();
}

if (process.argv.includes("--host")) await host(benchPython());
else await main();

/**
 * Preloading with the torch worker from issue #12 (bench/adapters/torch_mlp.py: setup() imports
 * torch and builds a small MLP): spawned vs forked from a template that imported torch once.
 * Per mode: 1 worker ready + first call, 8 workers ready + first call, a worker killed with
 * SIGKILL until its replacement answers, and the PSS of the workers (and of the template).
 */

import { readFileSync } from "node:fs";
import { Snakepit } from "../src/mod.ts";
import { benchPython, round, saveResults } from "./lib.ts";
import { median } from "./stats.ts";

const python = benchPython();
const ROUNDS = Number(process.env.BENCH_PRELOAD_ROUNDS ?? 3);
const adapter = new URL("./adapters/torch_mlp.py", import.meta.url).pathname;
const x = Array.from({ length: 64 }, (_, i) => i / 64);

if (Bun.spawnSync([python, "-c", "import torch"]).exitCode !== 0) {
  console.log(`preload bench skipped: ${python} cannot import torch (bench/setup.sh installs python3-torch as root)`);
  process.exit(0);
}

const pssKb = (pid: number) => Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? Number.NaN);

async function start(n: number, preload: boolean) {
  const t0 = performance.now();
  const pit = await Snakepit.start({ adapter, poolSize: n, python, ...(preload ? { preload: { modules: ["torch"] } } : { startMode: "spawn" as const }) });
  await pit.execute("infer", { x });
  return { pit, ms: performance.now() - t0 };
}

async function replaceMs(pit: Snakepit): Promise<number> {
  const victim = pit.listWorkers()[0]!;
  const t0 = performance.now();
  process.kill(victim.pid, "SIGKILL");
  for (;;) {
    const fresh = pit.listWorkers().find((w) => w.id !== victim.id && w.state === "ready" && !pit.listWorkers().some((o) => o.id === w.id && o.pid === victim.pid));
    if (fresh && pit.listWorkers().filter((w) => w.state === "ready").length === 1 && fresh.id !== victim.id) {
      await pit.execute("infer", { x });
      return performance.now() - t0;
    }
    await Bun.sleep(2);
  }
}

const rows: Record<string, number[]> = {};
const add = (k: string, v: number) => (rows[k] ??= []).push(v);
for (let r = 0; r < ROUNDS; r++) {
  for (const preload of r % 2 ? [true, false] : [false, true]) {
    const mode = preload ? "preload" : "spawn";
    const one = await start(1, preload);
    add(`${mode}.start1Ms`, one.ms);
    add(`${mode}.pss1Kb`, pssKb(one.pit.listWorkers()[0]!.pid));
    add(`${mode}.replaceMs`, await replaceMs(one.pit));
    await one.pit.close();
    const eight = await start(8, preload);
    add(`${mode}.start8Ms`, eight.ms);
    const pids = eight.pit.listWorkers().map((w) => w.pid);
    add(`${mode}.pss8Kb`, pids.reduce((s, p) => s + pssKb(p), 0));
    if (preload) {
      // The template, and the keeper it was split off from (the process the host spawned: its parent).
      const template = eight.pit.stats().pools.default?.templatePid;
      if (!template) throw new Error("preload: the pool reports no template");
      const keeper = Number(readFileSync(`/proc/${template}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      add(`${mode}.pss8WithTemplateKb`, pids.reduce((s, p) => s + pssKb(p), 0) + pssKb(template) + pssKb(keeper));
    }
    await eight.pit.close();
    console.log(`round ${r + 1} ${mode}: 1 worker ${Math.round(one.ms)} ms, 8 workers ${Math.round(eight.ms)} ms`);
  }
}
const figures = Object.fromEntries(Object.entries(rows).map(([k, xs]) => [k, { median: round(median(xs)), min: round(Math.min(...xs)), max: round(Math.max(...xs)) }]));
const m = (k: string) => figures[k]?.median ?? Number.NaN;
const results = {
  date: new Date().toISOString(),
  python,
  adapter: "bench/adapters/torch_mlp.py (setup imports torch, builds a 64-256-8 MLP)",
  machine: `${navigator.hardwareConcurrency} CPUs, shared with other work while measured`,
  rounds: ROUNDS,
  figures,
  targets: [
    { target: "8 preloaded torch workers ready ≤ 1.5× one", value: round(m("preload.start8Ms") / m("preload.start1Ms"), 2), met: m("preload.start8Ms") <= 1.5 * m("preload.start1Ms") },
    { target: "a crashed preloaded worker replaced ≤ 200 ms", value: m("preload.replaceMs"), met: m("preload.replaceMs") <= 200 },
    { target: "8 preloaded workers' total PSS ≤ 3× one preloaded worker's", value: round(m("preload.pss8Kb") / m("preload.pss1Kb"), 2), met: m("preload.pss8Kb") <= 3 * m("preload.pss1Kb") },
    { target: "8 preloaded workers + their template and its keeper, total PSS ≤ 3× one spawned worker's", value: round(m("preload.pss8WithTemplateKb") / m("spawn.pss1Kb"), 2), met: m("preload.pss8WithTemplateKb") <= 3 * m("spawn.pss1Kb") },
  ],
};
for (const t of results.targets) console.log(`${t.met ? "met    " : "NOT MET"} ${t.target}: ${t.value}`);
console.log(figures);
console.log("->", saveResults(ROUNDS >= 3 ? "preload" : "preload-smoke", results));

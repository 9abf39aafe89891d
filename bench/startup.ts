/**
 * Launch to first successful call: the built binary, copied alone to an empty folder, started
 * with `serve --port 0`, then one POST /v1/execute; median of runs. Target: ≤ 1 s.
 */

import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { updateReadme } from "./readme-table.ts";
import { benchPython, round, saveResults } from "./lib.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const python = benchPython();
const root = new URL("..", import.meta.url).pathname;
const built = join(mkdtempSync(join(tmpdir(), "snakepit-bench-")), "snakepit");
if ((await Bun.spawn([process.execPath, join(root, "scripts/build.ts"), built], { stdout: "ignore" }).exited) !== 0) process.exit(1);
const dir = mkdtempSync(join(tmpdir(), "snakepit-alone-"));
const binary = join(dir, "snakepit");
copyFileSync(built, binary);
Bun.spawnSync(["chmod", "+x", binary]);

async function once(cold: boolean): Promise<number> {
  const cache = cold ? mkdtempSync(join(tmpdir(), "snakepit-cache-")) : join(dir, "warm-cache");
  const t0 = performance.now();
  const proc = Bun.spawn([binary, "serve", "--port", "0", "--python", python], { cwd: dir, env: { ...process.env, SNAKEPIT_CACHE_DIR: cache }, stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let out = "";
  let url = "";
  while (!url) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`server exited: ${out}`);
    out += new TextDecoder().decode(value);
    url = /listening on (http:\/\/\S+)/.exec(out)?.[1] ?? "";
  }
  const res = await fetch(`${url}/v1/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"tool":"add","args":{"a":1,"b":2}}' });
  if ((await res.json()).result !== 3) throw new Error("wrong answer");
  const ms = performance.now() - t0;
  proc.kill("SIGTERM");
  await proc.exited;
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
await once(false); // fill the warm cache
const cold: number[] = [];
const warm: number[] = [];
for (let i = 0; i < RUNS; i++) {
  cold.push(await once(true));
  warm.push(await once(false));
}
const results = {
  date: new Date().toISOString(),
  python,
  runs: RUNS,
  poolSize: 2,
  launchToFirstCallMs: { coldCacheMedian: round(median(cold)), warmCacheMedian: round(median(warm)), cold: cold.map((x) => round(x)), warm: warm.map((x) => round(x)) },
  targetMs: 1000,
};
console.log(results.launchToFirstCallMs);
console.log(median(cold) <= 1000 && median(warm) <= 1000 ? "target met" : "TARGET MISSED", "->", saveResults("startup", results));
updateReadme();

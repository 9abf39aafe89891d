/**
 * The HTTP face's own cost: host CPU per request of `snakepit serve` (2 workers) under autocannon
 * at 64 connections, POST /v1/execute and Connect Execute, minus host CPU per call of the module
 * API (same pool, 64 calls in flight). CPU time (utime + stime of the serving process), not wall
 * time, so a loaded machine blurs it far less. Medians of BENCH_ROUNDS (default 5) alternating rounds.
 *
 *   bun bench/http-cost.ts
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Snakepit } from "../src/mod.ts";
import { startServe } from "./contenders/http-face.ts";

const root = new URL("../", import.meta.url).pathname;
const python = process.env.SNAKEPIT_PYTHON ?? "/usr/bin/python3";
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const requests = Number(process.env.BENCH_HTTP_REQUESTS ?? 40_000);
const TICK_US = 1e6 / 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0];

async function autocannon(url: string, body: string, n: number): Promise<number> {
  const cli = join(root, "node_modules/autocannon/autocannon.js");
  const proc = Bun.spawn(["node", cli, "-j", "-c", "64", "-a", String(n), "-m", "POST", "-H", "content-type=application/json", "-b", body, url], { stdout: "pipe", stderr: "ignore" });
  const r = JSON.parse(await new Response(proc.stdout).text()) as { requests: { total: number }; errors: number; non2xx: number };
  if (r.errors || r.non2xx) throw new Error(`autocannon: ${r.errors} errors, ${r.non2xx} non-2xx at ${url}`);
  return r.requests.total;
}

/** Host CPU µs per request of `serve` for each route, one server per round. */
async function httpRound(): Promise<Record<string, number>> {
  const server = await startServe(python);
  const pid = server.pid!;
  const out: Record<string, number> = {};
  try {
    const routes: Array<[string, string]> = [["execute", server.url + "/v1/execute"], ["connect", server.url + "/snakepit.api.v1.ControlService/Execute"]];
    for (const [name, url] of routes) {
      await autocannon(url, server.body, 5_000);
      const c0 = cpuUs(pid);
      const n = await autocannon(url, server.body, requests);
      out[name] = (cpuUs(pid) - c0) / n;
    }
  } finally {
    await server.close();
  }
  return out;
}

/** Host CPU µs per module-API call, 64 in flight. */
async function moduleRound(): Promise<number> {
  await using pit = await Snakepit.start({ adapter: join(root, "bench/adapters/bench.py"), poolSize: 2, python });
  const run = async (n: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next++ < n) await pit.execute("add", { a: 1, b: 2 });
    }));
  };
  await run(5_000);
  const c0 = process.cpuUsage();
  await run(requests);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / requests;
}

const samples: Record<string, number[]> = { execute: [], connect: [], module: [] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? ["module", "http"] : ["http", "module"];
  for (const which of order) {
    if (which === "module") samples.module!.push(await moduleRound());
    else for (const [k, v] of Object.entries(await httpRound())) samples[k]!.push(v);
  }
  console.log(`round ${r + 1}: execute ${samples.execute!.at(-1)!.toFixed(1)} µs, connect ${samples.connect!.at(-1)!.toFixed(1)} µs, module call ${samples.module!.at(-1)!.toFixed(1)} µs (load ${load()})`);
}
const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<string, number>;
console.log(`host CPU per request, median of ${rounds}: POST /v1/execute ${m.execute!.toFixed(1)} µs, Connect Execute ${m.connect!.toFixed(1)} µs, module-API call ${m.module!.toFixed(1)} µs`);
console.log(`the HTTP face's own cost: /v1/execute ${(m.execute! - m.module!).toFixed(1)} µs, Connect ${(m.connect! - m.module!).toFixed(1)} µs per request`);

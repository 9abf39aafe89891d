/**
 * Where a 16 MiB shared-memory round trip goes: wall time, CPU time (host and worker) and minor
 * page faults per round trip, for bytes and a float32 NDArray, with results released at once
 * (`BULK_RELEASE=1`, default) or left to the garbage collector (`BULK_RELEASE=0`).
 * `npx bun bench/bulk-cost.ts` (BULK_N round trips each, default 30). CPU time and faults are
 * far less sensitive to the load of a shared machine than wall time.
 */

import { readFileSync } from "node:fs";
import { type NDArray, releaseShared, Snakepit } from "../src/mod.ts";
import { benchPython } from "./lib.ts";
import { hostOn, OTHER_CORE, pin } from "./placement.ts";

const N = Number(process.env.BULK_N ?? 30);
const RELEASE = process.env.BULK_RELEASE !== "0";
const BULK = 16 * 1024 * 1024;
const adapter = new URL("./adapters/bench.py", import.meta.url).pathname;
const TICK = 100; // USER_HZ

/** utime+stime (ms) and minor faults of `pid` (self when "self"). */
function usage(pid: number | "self"): { cpuMs: number; faults: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / TICK, faults: Number(f[7]) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One round trip; the result is checked (three bytes, as compare.ts does) and dropped inside, released first with BULK_RELEASE. */
async function once(call: () => Promise<unknown>): Promise<void> {
  const out = await call();
  const b = out instanceof Uint8Array ? out : new Uint8Array((out as NDArray).data.buffer);
  if (b.length !== BULK || b[12345] !== bytes[12345] && b[12345] !== new Uint8Array(floats.buffer)[12345]) throw new Error(`bad echo (${b.length} bytes)`);
  if (RELEASE) releaseShared(out);
}

async function measure(name: string, pit: Snakepit, call: () => Promise<unknown>): Promise<void> {
  const pid = pit.listWorkers()[0]!.pid;
  const trip = () => once(call);
  for (let i = 0; i < 3; i++) await trip();
  const walls: number[] = [];
  const h0 = process.cpuUsage();
  const hf0 = usage("self").faults;
  const w0 = usage(pid);
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await trip();
    walls.push(performance.now() - t);
  }
  const h1 = process.cpuUsage(h0);
  const w1 = usage(pid);
  const hostMs = (h1.user + h1.system) / 1000 / N;
  const line = {
    row: name,
    wallMs: +median(walls).toFixed(2),
    MiBps: Math.round(16 / (median(walls) / 1000)),
    hostCpuMs: +hostMs.toFixed(2),
    hostSysMs: +(h1.system / 1000 / N).toFixed(2),
    workerCpuMs: +((w1.cpuMs - w0.cpuMs) / N).toFixed(2),
    hostFaults: Math.round((usage("self").faults - hf0) / N),
    workerFaults: Math.round((w1.faults - w0.faults) / N),
  };
  console.log(JSON.stringify(line));
}

const bytes = new Uint8Array(BULK);
for (let i = 0; i < BULK; i++) bytes[i] = (i * 2654435761) >>> 24;
const floats = new Float32Array(BULK / 4).map((_, i) => i * 0.5);

hostOn("0");
await using pit = await Snakepit.start({ adapter, poolSize: 1, python: benchPython() });
for (const w of pit.listWorkers()) pin(w.pid, OTHER_CORE);
console.log(`release: ${RELEASE}, load: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
for (let r = 0; r < 2; r++) {
  await measure("bytes", pit, () => pit.execute("blob", { data: bytes }));
  await measure("f32", pit, () => pit.execute("f32", { x: { dtype: "float32", shape: [floats.length], data: floats } satisfies NDArray }));
}
console.log(JSON.stringify(pit.stats().shm));

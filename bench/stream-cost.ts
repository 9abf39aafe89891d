/**
 * CPU per stream chunk, host and Python apart, and the wall rate, snakepit against the raw pipe
 * (flush-each, buffered, and batched 128 a write: snakepit's floor) in one process, alternating rounds: the stream row of `compare.ts`
 * placed the same way (host on CPU 0, Python on CPU 1) with figures that load moves far less.
 * `bun bench/stream-cost.ts [rounds] [chunks]`.
 */

import { readFileSync } from "node:fs";
import { benchPython, round } from "./lib.ts";
import { RawPipe } from "./contenders/raw.ts";
import { pitStream, startPit } from "./contenders/snakepit.ts";
import { HOST_CPU, hostOn, OTHER_CORE, pin, pinSelf } from "./placement.ts";

const python = benchPython();
const rounds = Number(process.argv[2] ?? 5);
const N = Number(process.argv[3] ?? 100_000);
const tick = 100; // USER_HZ on Linux

function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / tick;
}

const hostCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Row { rate: number; firstMs: number; hostUs: number; pyUs: number }

async function measure(pid: number, run: () => Promise<{ firstMs: number; count: number }>): Promise<Row> {
  const h0 = hostCpuMs();
  const p0 = procCpuMs(pid);
  const t = performance.now();
  const s = await run();
  const ms = performance.now() - t;
  if (s.count !== N) throw new Error(`${s.count} chunks, not ${N}`);
  return { rate: N / (ms / 1000), firstMs: s.firstMs, hostUs: ((hostCpuMs() - h0) * 1000) / N, pyUs: ((procCpuMs(pid) - p0) * 1000) / N };
}

pinSelf();
hostOn(HOST_CPU);
await using pit = await startPit(python, 1, OTHER_CORE);
const pitPid = pit.listWorkers()[0]!.pid!;
const raw = new RawPipe(python, OTHER_CORE);
pin(raw.proc.pid, OTHER_CORE);
await pitStream(pit, 1000);
await raw.stream(1000, true);
const rows: Record<string, Row[]> = { snakepit: [], raw: [], rawBuffered: [], rawBatched: [] };
const order: Array<[string, () => Promise<Row>]> = [
  ["snakepit", () => measure(pitPid, () => pitStream(pit, N))],
  ["raw", () => measure(raw.proc.pid, () => raw.stream(N, true))],
  ["rawBuffered", () => measure(raw.proc.pid, () => raw.stream(N, false))],
  ["rawBatched", () => measure(raw.proc.pid, () => raw.streamBatched(N, 128))],
];
for (let r = 0; r < rounds; r++) {
  for (const [who, run] of r % 2 ? [...order].reverse() : order) rows[who]!.push(await run());
}
await raw.close();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
for (const [who, xs] of Object.entries(rows)) {
  const rates = xs.map((x) => x.rate);
  console.log(JSON.stringify({
    who,
    rate: round(median(rates), 0),
    range: [round(Math.min(...rates), 0), round(Math.max(...rates), 0)],
    firstMs: round(median(xs.map((x) => x.firstMs)), 2),
    hostUs: round(median(xs.map((x) => x.hostUs)), 2),
    pyUs: round(median(xs.map((x) => x.pyUs)), 2),
  }));
}
const ratio = rows.snakepit!.map((x, i) => x.rate / rows.raw![i]!.rate);
console.log(JSON.stringify({ snakepitOverFlushEach: round(median(ratio), 2), perRound: ratio.map((x) => round(x, 2)), load }));

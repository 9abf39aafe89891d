/**
 * The bench's throughput row alone (64 calls in flight): the tight raw 2-pipe against snakepit
 * with 2 workers, exactly as `bench/compare.ts` measures it, in alternating rounds; prints the
 * medians and their ratio. A quick check of the one row without the whole bench.
 * `bun bench/throughput-row.ts [rounds]`.
 */

import { readFileSync } from "node:fs";
import { benchPython, throughput } from "./lib.ts";
import { RawPipe } from "./contenders/raw.ts";
import { pitCall, startPit } from "./contenders/snakepit.ts";
import { ALL_CPUS, hostOn, pinSelf } from "./placement.ts";

const rounds = Number(process.argv[2] ?? 7);
const TOTAL = Number(process.env.BENCH_TOTAL ?? 20_000);
const python = benchPython();
const raw: number[] = [];
const pit: number[] = [];

async function rawRound(): Promise<void> {
  const two = [new RawPipe(python, ALL_CPUS), new RawPipe(python, ALL_CPUS)];
  raw.push(await throughput((i) => two[i % 2]!.call(i), TOTAL, 64));
  await Promise.all(two.map((p) => p.close()));
}

async function pitRound(): Promise<void> {
  await using p = await startPit(python, 2, ALL_CPUS);
  pit.push(await throughput(pitCall(p), TOTAL, 64));
}

pinSelf();
hostOn(ALL_CPUS);
await rawRound(); // warm-up, not counted
await pitRound();
raw.length = 0;
pit.length = 0;
for (let r = 0; r < rounds; r++) {
  Bun.gc(true);
  for (const round of r % 2 ? [pitRound, rawRound] : [rawRound, pitRound]) await round();
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(JSON.stringify({ raw: median(raw), snakepit: median(pit), ratio: Math.round((median(pit) / median(raw)) * 100) / 100, rawAll: raw, snakepitAll: pit, load }));

/**
 * The bulk rows of compare.ts alone, for working on the shared-memory path: 16 MiB bytes,
 * float32 and Arrow IPC round trips (MiB/s, median of 3 after a warm-up, as compare.ts measures
 * them) for snakepit with its segment pool, snakepit with the pool off (one-shot segments, as
 * before the pool), the raw pipe and FastAPI + uvicorn, alternating over BENCH_ROUNDS rounds
 * (default 5). Prints medians with min–max; writes nothing. `npx bun bench/bulk-compare.ts`
 */

import { poolBudget, setPoolBudget } from "../src/bridge/shm-pool.ts";
import { benchPython } from "./lib.ts";
import { arrow, bulkRate as rate, bytes, f, floats, sameBytes as same } from "./bulk-data.ts";
import { canPin, HOST_CPU, hostOn, OTHER_CORE, pinSelf } from "./placement.ts";
import { RawPipe } from "./contenders/raw.ts";
import { pitArrow, pitBytes, pitF32, startPit } from "./contenders/snakepit.ts";
import { apiBulk, fastapiMissing, startUvicorn } from "./contenders/fastapi.ts";

const python = benchPython();
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
type Row = Record<string, number>;

async function snakepit(pool: boolean): Promise<Row> {
  const budget = poolBudget();
  if (!pool) setPoolBudget(0);
  try {
    await using pit = await startPit(python, 1, OTHER_CORE);
    return {
      bytes: await rate(async () => same(bytes, await pitBytes(pit, bytes), "snakepit")),
      f32: await rate(async () => same(f, new Uint8Array((await pitF32(pit, floats)).buffer), "snakepit f32")),
      arrow: await rate(() => pitArrow(pit, arrow, same)),
    };
  } finally {
    setPoolBudget(budget);
  }
}

async function raw(): Promise<Row> {
  const one = new RawPipe(python, OTHER_CORE);
  try {
    return { bytes: await rate(async () => same(bytes, await one.bulk(bytes, false), "raw")), f32: await rate(async () => same(f, await one.bulk(f, true), "raw f32")) };
  } finally {
    await one.close();
  }
}

async function fastapi(): Promise<Row> {
  const one = await startUvicorn(python, 1, OTHER_CORE);
  try {
    return {
      bytes: await rate(async () => same(bytes, await apiBulk(one.url, bytes, false), "fastapi")),
      f32: await rate(async () => same(f, await apiBulk(one.url, f, true), "fastapi f32")),
      arrow: await rate(async () => same(arrow.bytes, await apiBulk(one.url, arrow.bytes, false), "fastapi arrow")),
    };
  } finally {
    await one.close();
  }
}

pinSelf();
hostOn(HOST_CPU);
const contenders: Array<[string, () => Promise<Row>]> = [["snakepit", () => snakepit(true)], ["snakepitNoPool", () => snakepit(false)], ["raw", raw]];
if (!fastapiMissing(python)) contenders.push(["fastapi", fastapi]);
const samples: Record<string, Record<string, number[]>> = {};
for (const [, run] of contenders) await run(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [who, run] of r % 2 ? [...contenders].reverse() : contenders) {
    Bun.gc(true);
    for (const [row, v] of Object.entries(await run())) ((samples[row] ??= {})[who] ??= []).push(v);
  }
}
const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
console.log(`bulk rows, MiB/s, median (min–max) of ${ROUNDS} rounds; placement ${canPin ? "host CPU 0, Python CPU 1" : "not enforced"}; load ${load}`);
for (const [row, byWho] of Object.entries(samples)) {
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const cells = Object.entries(byWho).map(([who, xs]) => `${who} ${Math.round(med(xs))} (${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))})`);
  const ratio = byWho.fastapi ? ` | snakepit/fastapi ${(med(byWho.snakepit!) / med(byWho.fastapi)).toFixed(2)}×` : "";
  console.log(`${row}: ${cells.join(", ")}${ratio}`);
}

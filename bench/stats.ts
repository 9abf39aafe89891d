/** Aggregation for bench/compare.ts: medians with ranges, floor checks, the targets. */

import { round } from "./lib.ts";

/** One figure per round, per contender, per row. */
export type Samples = Record<string, Record<string, number[]>>;

export interface Figure {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function summarise(samples: Samples): Record<string, Record<string, Figure>> {
  const out: Record<string, Record<string, Figure>> = {};
  for (const [row, byContender] of Object.entries(samples)) {
    out[row] = {};
    for (const [who, xs] of Object.entries(byContender)) {
      const digits = Math.max(...xs) >= 100 ? 0 : 2;
      out[row][who] = { median: round(median(xs), digits), min: round(Math.min(...xs), digits), max: round(Math.max(...xs), digits), values: xs.map((x) => round(x, digits)) };
    }
  }
  return out;
}

/** Rows where a larger figure is better; every other row is a time (smaller is better). */
export const HIGHER_IS_BETTER = new Set(["throughput", "streamRate", "bytesMiBps", "f32MiBps", "arrowMiBps", "http16ReqPerSec", "http64ReqPerSec"]);

/**
 * A contender doing a strict superset of its floor's work cannot beat it: if it does, the
 * measurement is wrong and the run stops. [row, contender, floor contender, why it is a floor].
 */
export const FLOORS: Array<[string, string, string, string]> = [
  ["p50Us", "snakepit", "raw", "same pipe round trip, plus framing, validation and supervision"],
  ["p50Us", "fastapi", "raw", "a round trip plus HTTP"],
  ["throughput", "snakepit", "raw", "2 workers vs 2 raw pipes"],
  ["throughput", "fastapi", "raw", "2 workers vs 2 raw pipes"],
  // snakepit's worker sends a fast stream's scalar chunks 128 to a packet: its floor batches too.
  ["streamRate", "snakepit", "rawBatched", "the same chunks in the same batches, framed and flow-controlled"],
  ["streamRate", "fastapi", "rawBuffered", "the same chunks over HTTP"],
  ["start1Ms", "snakepit", "raw", "one interpreter start plus a call"],
  // By default (Linux) snakepit forks its workers from one template: one interpreter start, not eight.
  ["start8Ms", "snakepitSpawn", "raw", "eight interpreter starts plus a call"],
];

/**
 * Floors that were beaten. `broken`: the contender's median beats the floor's best round, a
 * systematic error (the old 0.91× was one: snakepit's median under the raw pipe's every round);
 * the run stops. `noise`: it beats only the floor's median, inside the floor's own spread on this
 * shared machine; recorded in the results and printed, not hidden.
 */
export function checkFloors(fig: Record<string, Record<string, Figure>>, pipeBulk: boolean): { broken: string[]; noise: string[] } {
  const floors = [...FLOORS];
  // Over the pipe, bulk data is a copy through the kernel like the raw pipe's; through shared
  // memory it is not the same work, so no floor applies.
  floors.push(["bytesMiBps", "snakepitPipe", "raw", "the same bytes through the same pipe"], ["f32MiBps", "snakepitPipe", "raw", "the same bytes through the same pipe"]);
  if (pipeBulk) floors.push(["bytesMiBps", "snakepit", "raw", "the same bytes through the same pipe"], ["f32MiBps", "snakepit", "raw", "the same bytes through the same pipe"]);
  const broken: string[] = [];
  const noise: string[] = [];
  for (const [row, who, floor, why] of floors) {
    const a = fig[row]?.[who];
    const b = fig[row]?.[floor];
    if (!a || !b) continue;
    const higher = HIGHER_IS_BETTER.has(row);
    const beats = (x: number, y: number) => (higher ? x > y : x < y);
    const best = higher ? b.max : b.min;
    const text = `${row}: ${who} ${a.median} (${a.min}–${a.max}) vs its floor ${floor} ${b.median} (${b.min}–${b.max}) (${why})`;
    if (beats(a.median, best)) broken.push(text);
    else if (beats(a.median, b.median)) noise.push(text);
  }
  return { broken, noise };
}

/** The "done when" list, evaluated on medians. */
export function targets(fig: Record<string, Record<string, Figure>>): Array<{ target: string; value: string; met: boolean }> {
  const m = (row: string, who: string) => fig[row]?.[who]?.median ?? Number.NaN;
  const t = (target: string, value: number, met: boolean, unit = "×") => ({ target, value: `${round(value, 2)}${unit}`, met });
  return [
    t("small-call p50 ≤ 2× the tight raw pipe", m("p50Us", "snakepit") / m("p50Us", "raw"), m("p50Us", "snakepit") <= 2 * m("p50Us", "raw")),
    t("throughput ≥ 0.6× the tight raw 2-pipe", m("throughput", "snakepit") / m("throughput", "raw"), m("throughput", "snakepit") >= 0.6 * m("throughput", "raw")),
    t("throughput ≥ 0.6× python-shell", m("throughput", "snakepit") / m("throughput", "pythonShell"), m("throughput", "snakepit") >= 0.6 * m("throughput", "pythonShell")),
    t("stream ≥ 1.2× FastAPI StreamingResponse", m("streamRate", "snakepit") / m("streamRate", "fastapi"), m("streamRate", "snakepit") >= 1.2 * m("streamRate", "fastapi")),
    t("stream above the flush-each pipe", m("streamRate", "snakepit") / m("streamRate", "raw"), m("streamRate", "snakepit") > m("streamRate", "raw")),
    t("stream first chunk ≤ 1 ms", m("streamFirstMs", "snakepit"), m("streamFirstMs", "snakepit") <= 1, " ms"),
    t("16 MiB bytes ≥ 2× uvicorn octet-stream", m("bytesMiBps", "snakepit") / m("bytesMiBps", "fastapi"), m("bytesMiBps", "snakepit") >= 2 * m("bytesMiBps", "fastapi")),
    t("16 MiB float32 numpy ≥ 2× uvicorn", m("f32MiBps", "snakepit") / m("f32MiBps", "fastapi"), m("f32MiBps", "snakepit") >= 2 * m("f32MiBps", "fastapi")),
    t("HTTP at 64 connections ≥ 2× FastAPI req/s", m("http64ReqPerSec", "snakepit") / m("http64ReqPerSec", "fastapi"), m("http64ReqPerSec", "snakepit") >= 2 * m("http64ReqPerSec", "fastapi")),
    t("HTTP at 64 connections p99 ≤ FastAPI's", m("http64P99Ms", "snakepit") / m("http64P99Ms", "fastapi"), m("http64P99Ms", "snakepit") <= m("http64P99Ms", "fastapi")),
    t("8 workers + first call ≤ 2× one worker + first call (default: forked from a bridge-only template on Linux)", m("start8Ms", "snakepit") / m("start1Ms", "snakepit"), m("start8Ms", "snakepit") <= 2 * m("start1Ms", "snakepit")),
    t("8 workers + first call ≤ 2× one worker + first call (startMode spawn)", m("start8Ms", "snakepitSpawn") / m("start1Ms", "snakepitSpawn"), m("start8Ms", "snakepitSpawn") <= 2 * m("start1Ms", "snakepitSpawn")),
  ];
}

/**
 * Telemetry overhead: throughput at 64 in flight with 2 workers, telemetry fully on (metrics,
 * Python control at sampling 1.0, a listener on every Python event) against fully off, in
 * alternating rounds of one run. Target (issue #6): on ≥ 0.95× off.
 */

import { Snakepit } from "../src/mod.ts";
import { updateReadme } from "./readme-table.ts";
import { benchPython, round, saveResults, throughput } from "./lib.ts";

const python = benchPython();
const adapter = new URL("./adapters/bench.py", import.meta.url).pathname;
const TOTAL = Number(process.env.BENCH_TOTAL ?? 60_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

async function measure(on: boolean): Promise<number> {
  await using pit = await Snakepit.start({
    adapter, poolSize: 2, python,
    telemetry: on ? { metrics: true, control: { samplingRate: 1 } } : { metrics: false, control: { enabled: false } },
  });
  let events = 0;
  if (on) {
    pit.on("python.event", () => events++);
    pit.on("call.stop", () => {});
  }
  const rate = await throughput((i) => pit.execute("add", { a: i, b: 1 }), TOTAL, 64);
  if (on && events === 0) throw new Error("telemetry on, but no Python event arrived");
  if (on) await pit.telemetry.metrics();
  return rate;
}

// Rounds alternate (and swap order) so drift on the machine hits both sides alike; the figure
// is the median of the per-round ratios.
const off: number[] = [];
const on: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const first = r % 2 === 0;
  const a = await measure(!first);
  const b = await measure(first);
  const [offRate, onRate] = first ? [a, b] : [b, a];
  off.push(offRate);
  on.push(onRate);
  ratios.push(onRate / offRate);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = {
  date: new Date().toISOString(),
  python,
  calls: TOTAL,
  rounds: ROUNDS,
  throughput: { off, on, offMedian: median(off), onMedian: median(on) },
  ratios: ratios.map((x) => round(x, 3)),
  ratio: round(median(ratios), 3),
  target: 0.95,
};
console.log(results.throughput, "ratio", results.ratio);
console.log(results.ratio >= 0.95 ? "target met" : "TARGET MISSED", "->", saveResults("telemetry", results));
updateReadme();

/**
 * Core benchmark: snakepit small calls against the raw newline-JSON pipe floor, one run, one
 * interpreter. Sequential latency (p50/p99), throughput at 64 in flight (pool sizes 1 and 2),
 * and the Python -> host tool round trip. The machine is noisy, so contenders alternate over
 * several rounds and each ratio is the median of its per-round ratios.
 */

import { z } from "zod";
import { Snakepit } from "../src/mod.ts";
import { updateReadme } from "./readme-table.ts";
import { benchPython, type Latency, rawPipe, round, saveResults, sequential, throughput } from "./lib.ts";

const python = benchPython();
const SEQ = Number(process.env.BENCH_SEQ ?? 3_000);
const TOTAL = Number(process.env.BENCH_TOTAL ?? 30_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const IN_FLIGHT = 64;
const adapter = new URL("./adapters/bench.py", import.meta.url).pathname;

async function raw(pipes: number, measureLatency: boolean) {
  const clients = Array.from({ length: pipes }, () => rawPipe(python));
  try {
    const call = (i: number) => clients[i % pipes]!.call(i);
    return { latency: measureLatency ? await sequential(call, SEQ) : undefined, throughput: await throughput(call, TOTAL, IN_FLIGHT) };
  } finally {
    for (const c of clients) c.close();
  }
}

async function snakepit(poolSize: number, measureLatency: boolean) {
  await using pit = await Snakepit.start({ adapter, poolSize, python });
  pit.tools.register("echo", { input: z.object({ x: z.number() }), handler: ({ x }) => x });
  const call = (i: number) => pit.execute("add", { a: i, b: 1 });
  return {
    latency: measureLatency ? await sequential(call, SEQ) : undefined,
    hostCall: measureLatency ? await sequential((i) => pit.execute("host_echo", { x: i }), SEQ) : undefined,
    throughput: await throughput(call, TOTAL, IN_FLIGHT),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const medianLatency = (xs: Latency[]): Latency => ({ p50Us: median(xs.map((x) => x.p50Us)), p99Us: median(xs.map((x) => x.p99Us)), meanUs: median(xs.map((x) => x.meanUs)) });

type Round = { raw1: Awaited<ReturnType<typeof raw>>; raw2: Awaited<ReturnType<typeof raw>>; sp1: Awaited<ReturnType<typeof snakepit>>; sp2: Awaited<ReturnType<typeof snakepit>> };
const rounds: Round[] = [];
// One round first to warm the JIT; it is not counted.
await raw(1, true);
await snakepit(1, true);
for (let r = 0; r < ROUNDS; r++) {
  const raw1 = await raw(1, true);
  const sp1 = await snakepit(1, true);
  const raw2 = await raw(2, false);
  const sp2 = await snakepit(2, false);
  rounds.push({ raw1, raw2, sp1, sp2 });
  console.log(`round ${r + 1}: p50 ${sp1.latency!.p50Us} vs ${raw1.latency!.p50Us} µs; 2 workers ${sp2.throughput} vs ${raw2.throughput} calls/s`);
}
const ratio = (f: (x: Round) => number) => round(median(rounds.map(f)), 2);
const results = {
  date: new Date().toISOString(),
  python,
  runtime: `bun ${Bun.version}`,
  calls: { sequential: SEQ, throughputTotal: TOTAL, inFlight: IN_FLIGHT, rounds: ROUNDS },
  raw: {
    pipe1: { latency: medianLatency(rounds.map((x) => x.raw1.latency!)), throughput: median(rounds.map((x) => x.raw1.throughput)) },
    pipe2: { throughput: median(rounds.map((x) => x.raw2.throughput)) },
  },
  snakepit: {
    pool1: {
      latency: medianLatency(rounds.map((x) => x.sp1.latency!)),
      hostCall: medianLatency(rounds.map((x) => x.sp1.hostCall!)),
      throughput: median(rounds.map((x) => x.sp1.throughput)),
    },
    pool2: { throughput: median(rounds.map((x) => x.sp2.throughput)) },
  },
  ratios: {
    p50VsRaw: ratio((x) => x.sp1.latency!.p50Us / x.raw1.latency!.p50Us),
    p99VsRaw: ratio((x) => x.sp1.latency!.p99Us / x.raw1.latency!.p99Us),
    throughput1VsRaw1: ratio((x) => x.sp1.throughput / x.raw1.throughput),
    throughput2VsRaw2: ratio((x) => x.sp2.throughput / x.raw2.throughput),
    // The Python -> host round trip alone: the call with one host call, less a plain call.
    hostRoundTripVsRaw: ratio((x) => (x.sp1.hostCall!.p50Us - x.sp1.latency!.p50Us) / x.raw1.latency!.p50Us),
    callWithHostCallVsRaw: ratio((x) => x.sp1.hostCall!.p50Us / x.raw1.latency!.p50Us),
  },
  targets: { p50VsRawAtMost: 4, throughput2VsRaw2AtLeast: 0.33, hostRoundTripVsRawAtMost: 4 },
};
console.log("ratios (medians of per-round ratios):", results.ratios);
const ok = results.ratios.p50VsRaw <= 4 && results.ratios.throughput2VsRaw2 >= 0.33 && results.ratios.hostRoundTripVsRaw <= 4;
console.log(ok ? "targets met" : "TARGETS MISSED", "->", saveResults("core", results));
updateReadme();

/**
 * Core benchmark: snakepit small calls against the raw newline-JSON pipe floor, one run, one
 * interpreter. Sequential latency (p50/p99) and throughput at 64 in flight, pool sizes 1 and 2.
 */

import { z } from "zod";
import { Snakepit } from "../src/mod.ts";
import { updateReadme } from "./readme-table.ts";
import { benchPython, rawPipe, round, saveResults, sequential, throughput } from "./lib.ts";

const python = benchPython();
const SEQ = Number(process.env.BENCH_SEQ ?? 5_000);
const TOTAL = Number(process.env.BENCH_TOTAL ?? 40_000);
const IN_FLIGHT = 64;
const adapter = new URL("./adapters/bench.py", import.meta.url).pathname;

async function rawContender(pipes: number) {
  const clients = Array.from({ length: pipes }, () => rawPipe(python));
  try {
    const call = (i: number) => clients[i % pipes]!.call(i);
    return {
      latency: pipes === 1 ? await sequential(call, SEQ) : undefined,
      throughput: await throughput(call, TOTAL, IN_FLIGHT),
    };
  } finally {
    for (const c of clients) c.close();
  }
}

async function snakepitContender(poolSize: number) {
  await using pit = await Snakepit.start({ adapter, poolSize, python });
  pit.tools.register("echo", { input: z.object({ x: z.number() }), handler: ({ x }) => x });
  const call = (i: number) => pit.execute("add", { a: i, b: 1 });
  return {
    latency: poolSize === 1 ? await sequential(call, SEQ) : undefined,
    hostCall: poolSize === 1 ? await sequential((i) => pit.execute("host_echo", { x: i }), SEQ) : undefined,
    throughput: await throughput(call, TOTAL, IN_FLIGHT),
  };
}

const raw1 = await rawContender(1);
const raw2 = await rawContender(2);
const sp1 = await snakepitContender(1);
const sp2 = await snakepitContender(2);

const results = {
  date: new Date().toISOString(),
  python,
  runtime: `bun ${Bun.version}`,
  calls: { sequential: SEQ, throughputTotal: TOTAL, inFlight: IN_FLIGHT },
  raw: { pipe1: raw1, pipe2: raw2 },
  snakepit: { pool1: sp1, pool2: sp2 },
  ratios: {
    p50VsRaw: round(sp1.latency!.p50Us / raw1.latency!.p50Us, 2),
    p99VsRaw: round(sp1.latency!.p99Us / raw1.latency!.p99Us, 2),
    throughput1VsRaw1: round(sp1.throughput / raw1.throughput, 2),
    throughput2VsRaw2: round(sp2.throughput / raw2.throughput, 2),
    // The Python -> host round trip alone: the call with one host call, less a plain call.
    hostRoundTripVsRaw: round((sp1.hostCall!.p50Us - sp1.latency!.p50Us) / raw1.latency!.p50Us, 2),
    callWithHostCallVsRaw: round(sp1.hostCall!.p50Us / raw1.latency!.p50Us, 2),
  },
  targets: { p50VsRawAtMost: 4, throughput2VsRaw2AtLeast: 0.33, hostRoundTripVsRawAtMost: 4 },
};

console.table({
  "raw pipe x1": { p50_us: raw1.latency!.p50Us, p99_us: raw1.latency!.p99Us, calls_per_s: raw1.throughput },
  "raw pipe x2": { p50_us: "", p99_us: "", calls_per_s: raw2.throughput },
  "snakepit pool 1": { p50_us: sp1.latency!.p50Us, p99_us: sp1.latency!.p99Us, calls_per_s: sp1.throughput },
  "snakepit pool 2": { p50_us: "", p99_us: "", calls_per_s: sp2.throughput },
  "call + 1 host call": { p50_us: sp1.hostCall!.p50Us, p99_us: sp1.hostCall!.p99Us, calls_per_s: "" },
});
console.log("ratios:", results.ratios);
const ok = results.ratios.p50VsRaw <= 4 && results.ratios.throughput2VsRaw2 >= 0.33 && results.ratios.hostRoundTripVsRaw <= 4;
console.log(ok ? "targets met" : "TARGETS MISSED", "->", saveResults("core", results));
updateReadme();

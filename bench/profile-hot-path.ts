/**
 * The hot path under load, for Bun's profiler: 2 workers, 64 calls in flight.
 * `bun --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-hot-path.ts`, then read the profile.
 */

import { Snakepit } from "../src/mod.ts";
import { benchPython, throughput } from "./lib.ts";

const adapter = new URL("./adapters/bench.py", import.meta.url).pathname;
await using pit = await Snakepit.start({ adapter, poolSize: 2, python: benchPython() });
const total = Number(process.env.BENCH_TOTAL ?? 60_000);
console.log(`${await throughput((i) => pit.execute("add", { a: i, b: 1 }), total, 64)} calls/s`);

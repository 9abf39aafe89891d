/**
 * The cost of one cluster hop against a local call, same run: `add(a, b)` sequentially and with
 * 16 in flight, through (1) a plain local Snakepit, (2) a clustered node whose own pool serves
 * (cluster mode on the local path), (3) a client-only handle calling a node in another process
 * over a real `nats-server -js` (client → NATS → node → worker and back). Pool size 1 each.
 * Rounds alternate the contenders; ratios are medians of per-round ratios.
 */

import { Snakepit } from "../src/mod.ts";
import { natsServerPath, startNatsServer } from "../test/cluster/nats-server.ts";
import { benchPython, type Latency, round, saveResults, sequential, throughput } from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_CALLS ?? 2_000);
const python = benchPython();
const adapter = new URL("../examples/adapters/demo.py:DemoAdapter", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;

if (!natsServerPath()) {
  console.log("bench/cluster.ts skipped: nats-server is not installed (scripts/optional-deps.sh installs it)");
  process.exit(0);
}
const nats = await startNatsServer();
const remote = Bun.spawn(["bun", `${root}src/cli/main.ts`, "serve", "--adapter", adapter, "--pool-size", "1", "--port", "0", "--python", python, "--cluster", nats.url, "--node", "bench-remote", "--instance", "bench-cluster-remote"], { stdout: "pipe", stderr: "inherit" });
{
  const reader = remote.stdout.getReader();
  let out = "";
  while (!out.includes("listening on")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`remote node exited: ${out}`);
    out += new TextDecoder().decode(value);
  }
  void (async () => {
    while (!(await reader.read()).done) {
      // discard
    }
  })();
}
const local = await Snakepit.start({ adapter, poolSize: 1, python });
const node = await Snakepit.start({ adapter, poolSize: 1, python, cluster: { url: nats.url, node: "bench-local", prefix: "benchlocal" } });
const client = await Snakepit.connect({ cluster: nats.url });

type Row = { seq: Latency; tput: number };
const contenders: Record<string, (i: number) => Promise<unknown>> = {
  local: (i) => local.execute("add", { a: i, b: 1 }),
  clusterNodeLocal: (i) => node.execute("add", { a: i, b: 1 }),
  clusterHop: (i) => client.execute("add", { a: i, b: 1 }),
};
const rounds: Array<Record<string, Row>> = [];
for (let r = 0; r <= ROUNDS; r++) {
  const row: Record<string, Row> = {};
  for (const [name, call] of Object.entries(contenders)) {
    row[name] = { seq: await sequential(call, N, 300), tput: await throughput(call, N * 2, 16) };
  }
  if (r > 0) rounds.push(row); // round 0 warms the JIT
  console.log(`round ${r}${r === 0 ? " (warm-up, dropped)" : ""}:`, Object.fromEntries(Object.entries(row).map(([k, v]) => [k, `p50 ${v.seq.p50Us} µs, ${v.tput}/s`])));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ratio = (name: string, pick: (r: Row) => number) => round(median(rounds.map((r) => pick(r[name]!) / pick(r.local!))), 2);
const results = {
  date: new Date().toISOString(),
  python,
  rounds: ROUNDS,
  callsPerRound: N,
  poolSize: 1,
  p50Us: Object.fromEntries(Object.keys(contenders).map((k) => [k, median(rounds.map((r) => r[k]!.seq.p50Us))])),
  p99Us: Object.fromEntries(Object.keys(contenders).map((k) => [k, median(rounds.map((r) => r[k]!.seq.p99Us))])),
  throughput16: Object.fromEntries(Object.keys(contenders).map((k) => [k, median(rounds.map((r) => r[k]!.tput))])),
  ratios: {
    clusterHopP50VsLocal: ratio("clusterHop", (r) => r.seq.p50Us),
    clusterNodeLocalP50VsLocal: ratio("clusterNodeLocal", (r) => r.seq.p50Us),
    clusterHopThroughputVsLocal: ratio("clusterHop", (r) => r.tput),
  },
};
console.log(results);
console.log("->", saveResults("cluster", results));
await client.close();
await node.close();
await local.close();
remote.kill("SIGTERM");
await remote.exited;
await nats.stop();

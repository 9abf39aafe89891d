/**
 * `npm run bench`: snakepit against a tight raw pipe, FastAPI + uvicorn and python-shell (under
 * Node), one process, one run, one interpreter, every row; then the HTTP face against FastAPI
 * with autocannon. Contenders alternate over ≥ 5 rounds (order reversed every other round);
 * figures are medians with min–max. A contender beating its own floor stops the run.
 */

import { tableFromArrays, tableToIPC } from "apache-arrow";
import { arrowIPC } from "../src/bridge/arrow.ts";
import { shmEnabled, shmWorkerEnv, useShm } from "../src/bridge/shm.ts";
import { updateReadme } from "./readme-table.ts";
import { benchPython, saveResults, sequential, throughput } from "./lib.ts";
import { ALL_CPUS, canPin, HOST_CPU, hostOn, OTHER_CORE, pin, pinSelf, SAME_CORE } from "./placement.ts";
import { checkFloors, type Samples, summarise, targets } from "./stats.ts";
import { RawPipe, rawStart } from "./contenders/raw.ts";
import { pitArrow, pitBytes, pitCall, pitF32, pitStart, pitStream, startPit } from "./contenders/snakepit.ts";
import { apiBulk, apiCall, apiStart, apiStream, fastapiMissing, startUvicorn } from "./contenders/fastapi.ts";
import { load, type Server, startApi, startServe } from "./contenders/http-face.ts";

const python = benchPython();
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ROUNDS = env("BENCH_ROUNDS", 5);
/** Fewer than 5 rounds is a smoke run: nothing is published. */
const SMOKE = ROUNDS < 5;
const SEQ = env("BENCH_SEQ", 2_000);
const TOTAL = env("BENCH_TOTAL", 20_000);
const STREAM_N = 100_000;
const BULK = 16 * 1024 * 1024;
const HTTP_SECONDS = env("BENCH_HTTP_SECONDS", 3);
const IN_FLIGHT = 64;

type Figures = Array<[row: string, who: string, value: number]>;

const bytes = new Uint8Array(BULK);
for (let i = 0; i < BULK; i++) bytes[i] = (i * 2654435761) >>> 24;
const floats = new Float32Array(BULK / 4).map((_, i) => i * 0.5);
/** A 16 MiB Arrow table (two float64 columns) as IPC: snakepit sends it as Arrow, uvicorn echoes its bytes. */
const arrow = arrowIPC(tableToIPC(tableFromArrays({ a: new Float64Array(BULK / 16).map((_, i) => i), b: new Float64Array(BULK / 16).fill(0.5) })));

function sameBytes(a: Uint8Array, b: Uint8Array, who: string): void {
  if (a.length !== b.length || a[12345] !== b[12345] || a[a.length - 1] !== b[b.length - 1]) throw new Error(`${who}: bulk echo came back wrong (${b.length} bytes)`);
}

/** MiB/s of a 16 MiB round trip: one warm-up, then the median of 3. */
async function bulkRate(trip: () => Promise<void>): Promise<number> {
  await trip();
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await trip();
    xs.push(16 / ((performance.now() - t) / 1000));
  }
  return xs.sort((a, b) => a - b)[1]!;
}

async function raw(): Promise<Figures> {
  const out: Figures = [];
  hostOn(HOST_CPU);
  const one = new RawPipe(python, SAME_CORE);
  out.push(["p50Us", "raw", (await sequential((i) => one.call(i), SEQ)).p50Us]);
  pin(one.proc.pid, OTHER_CORE);
  await one.stream(1000, true);
  for (const [who, flush] of [["raw", true], ["rawBuffered", false]] as const) {
    const t = performance.now();
    const s = await one.stream(STREAM_N, flush);
    if (s.count !== STREAM_N) throw new Error(`raw stream: ${s.count} chunks`);
    out.push(["streamRate", who, STREAM_N / ((performance.now() - t) / 1000)], ["streamFirstMs", who, s.firstMs]);
  }
  {
    // The floor of snakepit's stream, which batches a fast generator's chunks (128 a write).
    const t = performance.now();
    const s = await one.streamBatched(STREAM_N, 128);
    if (s.count !== STREAM_N) throw new Error(`raw batched stream: ${s.count} chunks`);
    out.push(["streamRate", "rawBatched", STREAM_N / ((performance.now() - t) / 1000)], ["streamFirstMs", "rawBatched", s.firstMs]);
  }
  out.push(["bytesMiBps", "raw", await bulkRate(async () => sameBytes(bytes, await one.bulk(bytes, false), "raw"))]);
  const f = new Uint8Array(floats.buffer);
  out.push(["f32MiBps", "raw", await bulkRate(async () => sameBytes(f, await one.bulk(f, true), "raw f32"))]);
  await one.close();
  hostOn(ALL_CPUS);
  const two = [new RawPipe(python, ALL_CPUS), new RawPipe(python, ALL_CPUS)];
  out.push(["throughput", "raw", await throughput((i) => two[i % 2]!.call(i), TOTAL, IN_FLIGHT)]);
  await Promise.all(two.map((p) => p.close()));
  out.push(["start1Ms", "raw", await rawStart(python, 1)], ["start8Ms", "raw", await rawStart(python, 8)]);
  return out;
}

async function snakepit(): Promise<Figures> {
  const out: Figures = [];
  hostOn(HOST_CPU);
  {
    await using pit = await startPit(python, 1, SAME_CORE);
    out.push(["p50Us", "snakepit", (await sequential(pitCall(pit), SEQ)).p50Us]);
    out.push(["hostCallUs", "snakepit", (await sequential((i) => pit.execute("host_echo", { x: i }), SEQ)).p50Us]);
    for (const w of pit.listWorkers()) pin(w.pid, OTHER_CORE);
    await pitStream(pit, 1000);
    const t = performance.now();
    const s = await pitStream(pit, STREAM_N);
    if (s.count !== STREAM_N) throw new Error(`snakepit stream: ${s.count} chunks`);
    out.push(["streamRate", "snakepit", STREAM_N / ((performance.now() - t) / 1000)], ["streamFirstMs", "snakepit", s.firstMs]);
    out.push(["bytesMiBps", "snakepit", await bulkRate(async () => sameBytes(bytes, await pitBytes(pit, bytes), "snakepit"))]);
    const f = new Uint8Array(floats.buffer);
    out.push(["f32MiBps", "snakepit", await bulkRate(async () => sameBytes(f, new Uint8Array((await pitF32(pit, floats)).buffer), "snakepit f32"))]);
    out.push(["arrowMiBps", "snakepit", await bulkRate(() => pitArrow(pit, arrow, sameBytes))]);
  }
  if (shmEnabled()) {
    // The same bulk rows with shared memory off: what zero-copy buys, in the same run.
    useShm(false);
    try {
      await using pit = await startPit(python, 1, OTHER_CORE);
      out.push(["bytesMiBps", "snakepitPipe", await bulkRate(async () => sameBytes(bytes, await pitBytes(pit, bytes), "snakepit pipe"))]);
      const f = new Uint8Array(floats.buffer);
      out.push(["f32MiBps", "snakepitPipe", await bulkRate(async () => sameBytes(f, new Uint8Array((await pitF32(pit, floats)).buffer), "snakepit pipe f32"))]);
      out.push(["arrowMiBps", "snakepitPipe", await bulkRate(() => pitArrow(pit, arrow, sameBytes))]);
    } finally {
      useShm(true);
    }
  }
  hostOn(ALL_CPUS);
  {
    await using pit = await startPit(python, 2, ALL_CPUS);
    out.push(["throughput", "snakepit", await throughput(pitCall(pit), TOTAL, IN_FLIGHT)]);
  }
  out.push(["start1Ms", "snakepit", await pitStart(python, 1)], ["start8Ms", "snakepit", await pitStart(python, 8)]);
  out.push(["start1Ms", "snakepitSpawn", await pitStart(python, 1, "spawn")], ["start8Ms", "snakepitSpawn", await pitStart(python, 8, "spawn")]);
  return out;
}

async function fastapi(): Promise<Figures> {
  const out: Figures = [];
  hostOn(HOST_CPU);
  const one = await startUvicorn(python, 1, SAME_CORE);
  try {
    out.push(["p50Us", "fastapi", (await sequential(apiCall(one.url), SEQ)).p50Us]);
    await apiStream(one.url, 1000);
    const t = performance.now();
    const s = await apiStream(one.url, STREAM_N);
    if (s.count !== STREAM_N) throw new Error(`FastAPI stream: ${s.count} chunks`);
    out.push(["streamRate", "fastapi", STREAM_N / ((performance.now() - t) / 1000)], ["streamFirstMs", "fastapi", s.firstMs]);
    out.push(["bytesMiBps", "fastapi", await bulkRate(async () => sameBytes(bytes, await apiBulk(one.url, bytes, false), "fastapi"))]);
    const f = new Uint8Array(floats.buffer);
    out.push(["f32MiBps", "fastapi", await bulkRate(async () => sameBytes(f, await apiBulk(one.url, f, true), "fastapi f32"))]);
    out.push(["arrowMiBps", "fastapi", await bulkRate(async () => sameBytes(arrow.bytes, await apiBulk(one.url, arrow.bytes, false), "fastapi arrow"))]);
  } finally {
    await one.close();
  }
  hostOn(ALL_CPUS);
  const two = await startUvicorn(python, 2, ALL_CPUS);
  try {
    out.push(["throughput", "fastapi", await throughput(apiCall(two.url), TOTAL / 2, IN_FLIGHT)]);
  } finally {
    await two.close();
  }
  out.push(["start1Ms", "fastapi", await apiStart(python, 1)], ["start8Ms", "fastapi", await apiStart(python, 8)]);
  return out;
}

async function pythonShell(): Promise<Figures> {
  const script = new URL("./contenders/python-shell.mjs", import.meta.url).pathname;
  const proc = Bun.spawn(["node", script, python, String(SEQ), String(TOTAL), String(STREAM_N), canPin ? "1" : "0"], { stdout: "pipe", stderr: "inherit" });
  const text = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`python-shell contender failed: ${text}`);
  const r = JSON.parse(text) as Record<string, number>;
  return Object.entries(r).map(([row, v]) => [row, "pythonShell", v]);
}

async function http(): Promise<Figures> {
  const out: Figures = [];
  hostOn(ALL_CPUS);
  const servers: Array<[string, () => Promise<Server>]> = [["snakepit", () => startServe(python)]];
  if (!skipFastapi) servers.push(["fastapi", () => startApi(python)]);
  for (const [who, start] of servers) {
    const server = await start();
    try {
      await load(server, 16, 1);
      for (const c of [16, 64]) {
        const r = await load(server, c, HTTP_SECONDS);
        if (r.errors) throw new Error(`${who} over HTTP: ${r.errors} errors at ${c} connections`);
        out.push([`http${c}ReqPerSec`, who, r.reqPerSec], [`http${c}P99Ms`, who, r.p99Ms]);
      }
    } finally {
      await server.close();
    }
  }
  return out;
}

pinSelf();
const skipFastapi = fastapiMissing(python);
if (skipFastapi) console.log(skipFastapi);
const contenders: Array<[string, () => Promise<Figures>]> = [["raw", raw], ["snakepit", snakepit], ["pythonShell", pythonShell], ["http", http]];
if (!skipFastapi) contenders.splice(2, 0, ["fastapi", fastapi]);
const samples: Samples = {};
const record = (figs: Figures) => {
  for (const [row, who, v] of figs) ((samples[row] ??= {})[who] ??= []).push(v);
};
console.log(`warm-up round (not counted), then ${ROUNDS} rounds`);
for (const [, run] of contenders) await run();
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? [...contenders].reverse() : contenders;
  for (const [name, run] of order) {
    Bun.gc(true);
    const t = performance.now();
    record(await run());
    console.log(`round ${r + 1}: ${name} done in ${Math.round(performance.now() - t)} ms`);
  }
}
const figures = summarise(samples);
const results = {
  date: new Date().toISOString(),
  python,
  runtime: `bun ${Bun.version}; python-shell and autocannon under node ${Bun.spawnSync(["node", "--version"]).stdout.toString().trim()}`,
  machine: `${navigator.hardwareConcurrency} CPUs, shared with other work while measured`,
  placement: canPin ? "p50 rows: host and Python on CPU 0 (same core); stream and bulk rows: host on CPU 0, Python on CPU 1; throughput, start-up and HTTP rows: every process on every CPU" : "not enforced",
  sizes: { rounds: ROUNDS, sequentialCalls: SEQ, throughputCalls: TOTAL, inFlight: IN_FLIGHT, streamChunks: STREAM_N, bulkBytes: BULK, httpSeconds: HTTP_SECONDS },
  skipped: skipFastapi ? { fastapi: skipFastapi } : {},
  bulkTransport: shmEnabled() ? `shared memory above ${shmWorkerEnv().SNAKEPIT_SHM_MIN_BYTES} bytes (src/bridge/shm.ts)` : "pipe",
  figures,
  targets: targets(figures),
};
const floors = checkFloors(figures, results.bulkTransport === "pipe");
if (floors.broken.length) {
  saveResults("compare-rejected", { ...results, floors });
  console.error(`A contender beat its own floor's best round: the measurement is wrong, results not published:\n  ${floors.broken.join("\n  ")}`);
  process.exit(1);
}
if (floors.noise.length) console.log(`Within the floor's own spread (noise on this machine, recorded in the results):\n  ${floors.noise.join("\n  ")}`);
Object.assign(results, { floorsWithinNoise: floors.noise });
for (const t of results.targets) console.log(`${t.met ? "met    " : "NOT MET"} ${t.target}: ${t.value}`);
console.log("->", saveResults(SMOKE ? "compare-smoke" : "compare", results));
if (!SMOKE) updateReadme();

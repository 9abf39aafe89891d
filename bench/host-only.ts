/**
 * Host CPU per call with no Python and no kernel: a real Pool of real LocalProcessWorkers whose
 * child is an in-process stand-in answering every ExecuteTool packet of one write with one chunk
 * (like a Python worker answering a batch), a turn later. What's left is the host's own work, so
 * A/B runs of the hot path are repeatable on a loaded machine.
 * `bun bench/host-only.ts [rounds] [inFlight]`; prints µs of CPU per call, host side.
 */

import { readFileSync } from "node:fs";
import { parseConfig, type SnakepitOptions } from "../src/config/parse.ts";
import { Pool } from "../src/pool/pool.ts";
import type { ChildProcess, ExitStatus } from "../src/runtime/process.ts";
import { EventBus } from "../src/telemetry/bus.ts";
import { LocalProcessWorker } from "../src/worker/local-process-worker.ts";
import { round } from "./lib.ts";

const rounds = Number(process.argv[2] ?? 5);
const inFlight = Number(process.argv[3] ?? 64);
const TOTAL = Number(process.env.BENCH_TOTAL ?? 200_000);
/** Which layer to call: the pool (the whole path), a worker, or the worker's channel. */
const layer = process.env.LAYER ?? "pool";

const text = new TextEncoder();
const untext = new TextDecoder();

/** The stand-in's own framing (not the host's, so host changes alone move the figure). */
function frames(jsons: string[]): Uint8Array {
  const bodies = jsons.map((j) => text.encode(j));
  const out = new Uint8Array(bodies.reduce((n, b) => n + 5 + b.length, 0));
  let at = 0;
  for (const body of bodies) {
    out[at + 1] = body.length >>> 24;
    out[at + 2] = (body.length >>> 16) & 0xff;
    out[at + 3] = (body.length >>> 8) & 0xff;
    out[at + 4] = body.length & 0xff;
    out.set(body, at + 5);
    at += 5 + body.length;
  }
  return out;
}

/** A child whose stdin is parsed in-process and whose stdout answers each call. */
function fakeChild(): ChildProcess {
  let out!: ReadableStreamDefaultController<Uint8Array>;
  const stdout = new ReadableStream<Uint8Array>({ start: (c) => void (out = c) });
  const stderr = new ReadableStream<Uint8Array>({ start() {} });
  let exit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((r) => (exit = r));
  // Packets are answered in a batch a turn later, as one chunk; the stand-in reads the id and
  // the numbers with string searches, so its own cost stays small beside the host's.
  let replies: string[] = [];
  const send = () => {
    const chunk = frames(replies);
    replies = [];
    out.enqueue(chunk);
  };
  const answer = (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) {
      const length = bytes[at + 1]! * 0x1000000 + (bytes[at + 2]! << 16) + (bytes[at + 3]! << 8) + bytes[at + 4]!;
      const json = untext.decode(bytes.subarray(at + 5, at + 5 + length));
      at += 5 + length;
      if (!json.startsWith('{"k":1,')) continue; // the END of Ready
      const id = json.slice(json.indexOf('"id":') + 5, json.indexOf(",", 12));
      const a = json.indexOf('"a":');
      const sum = Number(json.slice(a + 4, json.indexOf(",", a))) + 1;
      const msg = json.includes("ExecuteTool") ? `{"result":${sum},"durationUs":1}` : "{}";
      if (replies.length === 0) setImmediate(send);
      replies.push(`{"k":4,"id":${id},"msg":${msg}}`);
    }
  };
  const ready = { k: 1, id: 1, m: "Ready", msg: { protocolVersion: 1, pythonVersion: "fake", tools: [{ name: "add" }], features: [] } };
  queueMicrotask(() => out.enqueue(frames([JSON.stringify(ready)])));
  return {
    pid: 0,
    write: answer,
    closeStdin() {},
    stdout,
    stderr,
    exited,
    kill() {
      try {
        out.close();
      } catch {
        // closed already
      }
      exit({ exitCode: null, signal: "SIGKILL" });
    },
  };
}

const [config] = parseConfig({ adapter: "fake", poolSize: 2, heartbeat: { enabled: false } } as SnakepitOptions);
const bus = new EventBus();
const pool = new Pool(config!, {
  runId: "bench",
  bus,
  createWorker: ({ id, pool: c, hooks, clock }) =>
    new LocalProcessWorker({
      id, python: "fake", adapter: "fake", bridgeDir: "", env: {}, capacity: 1, runId: "bench", instance: "bench",
      startupTimeoutMs: c.startupTimeoutMs, cancelGraceMs: c.cancelGraceMs, spawn: () => Promise.resolve(fakeChild()),
    }, { ...hooks, host: {} as never }, clock),
});
await pool.start();

/** CPU time of the main (JS) thread only, ms: GC helper and JIT threads vary far more run to run. */
const cpuMs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;

const workers = pool.workers as LocalProcessWorker[];
const call = (i: number): Promise<unknown> => {
  // What Snakepit.execute calls: the result alone.
  if (layer === "pool") return pool.executeValue("add", { a: i, b: 1 });
  const w = workers[i % 2]!;
  if (layer === "worker") return w.call("add", { a: i, b: 1 }, process.env.NOTIMER ? { correlationId: "x-1" } : { timeoutMs: 30_000, innerTimeoutMs: 29_000, correlationId: "x-1" }).then((r) => r.result);
  return new Promise((resolve, reject) => {
    w.channel!.request("ExecuteTool", { toolName: "add", args: { a: i, b: 1 } }, {
      end: (msg, err) => (err ? reject(err) : resolve((msg as { result: unknown }).result)),
    }, { timeoutMs: 29_000 });
  });
};

async function run(total: number): Promise<{ us: number; rate: number }> {
  let next = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < total) {
      const i = next++;
      const r = await call(i);
      if (r !== i + 1) throw new Error(`wrong result ${String(r)}`);
    }
  }));
  return { us: round(((cpuMs() - c0) * 1000) / total, 2), rate: round(total / ((performance.now() - t0) / 1000), 0) };
}

await run(20_000);
const us: number[] = [];
for (let r = 0; r < rounds; r++) {
  Bun.gc(true);
  const m = await run(TOTAL);
  us.push(m.us);
  console.log(JSON.stringify(m));
}
us.sort((a, b) => a - b);
console.log(`host CPU per call, median of ${rounds}: ${us[Math.floor(rounds / 2)]} µs, min ${us[0]} µs (in flight ${inFlight})`);
await pool.close({ graceMs: 0 });

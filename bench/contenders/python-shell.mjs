// python-shell as a contender, run under Node (python-shell does not run under Bun).
// Usage: node python-shell.mjs PYTHON SEQ TOTAL STREAM_N PIN(0|1)  -> prints one JSON line.
import { execFileSync } from "node:child_process";
import { PythonShell } from "python-shell";

const [python, seqArg, totalArg, streamArg, pinArg] = process.argv.slice(2);
const SEQ = Number(seqArg);
const TOTAL = Number(totalArg);
const STREAM_N = Number(streamArg);
const doPin = pinArg === "1";
const script = new URL("../baselines/shell_echo.py", import.meta.url).pathname;
const pin = (pid, cpus) => doPin && execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });

function open(cpus) {
  const shell = new PythonShell(script, { mode: "json", pythonPath: python, pythonOptions: ["-u"] });
  if (cpus) pin(shell.childProcess.pid, cpus);
  const waiters = new Map();
  let onChunk;
  shell.on("message", (m) => {
    if (m.id === undefined) return onChunk(m);
    const w = waiters.get(m.id);
    waiters.delete(m.id);
    w(m);
  });
  let id = 0;
  const request = (body) => new Promise((resolve) => {
    const i = id++;
    waiters.set(i, resolve);
    shell.send({ id: i, ...body });
  });
  return {
    call: async (a) => (await request({ a, b: 1 })).result,
    async stream(n) {
      const t0 = performance.now();
      let firstMs = 0;
      let count = 0;
      onChunk = (m) => {
        if (count === 0) firstMs = performance.now() - t0;
        if (m.i !== count++) throw new Error("python-shell stream out of order");
      };
      await request({ stream: n });
      return { ms: performance.now() - t0, firstMs, count };
    },
    close: () => new Promise((resolve) => shell.end(() => resolve())),
  };
}

async function sequential(call, n) {
  for (let i = 0; i < 300; i++) await call(i);
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call(i);
    xs.push(performance.now() - t);
  }
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)] * 1000;
}

async function throughput(call, total, inFlight) {
  for (let i = 0; i < 300; i++) await call(i);
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < total) await call(next++);
  }));
  return total / ((performance.now() - t) / 1000);
}

async function start(n) {
  const t0 = performance.now();
  const shells = Array.from({ length: n }, () => open());
  await Promise.all(shells.map((s) => s.call(1)));
  const ms = performance.now() - t0;
  await Promise.all(shells.map((s) => s.close()));
  return ms;
}

if (doPin) pin(process.pid, "0");
const out = {};
let s = open("0");
out.p50Us = await sequential(s.call, SEQ);
await s.close();
pin(process.pid, "0-1");
s = open("0-1");
out.throughput = await throughput(s.call, TOTAL, 64);
await s.close();
pin(process.pid, "0");
s = open("1");
await s.stream(1000);
const st = await s.stream(STREAM_N);
if (st.count !== STREAM_N) throw new Error(`python-shell stream: ${st.count} chunks`);
out.streamRate = STREAM_N / (st.ms / 1000);
out.streamFirstMs = st.firstMs;
await s.close();
pin(process.pid, "0-1");
out.start1Ms = await start(1);
out.start8Ms = await start(8);
console.log(JSON.stringify(out));

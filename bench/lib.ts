/** Benchmark helpers: timing loops, percentiles, the raw-pipe baseline client, result files. */

import { mkdirSync, writeFileSync } from "node:fs";

export interface Latency {
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

export function percentiles(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000;
  const mean = (sorted.reduce((s, x) => s + x, 0) / sorted.length) * 1000;
  return { p50Us: round(at(0.5)), p99Us: round(at(0.99)), meanUs: round(mean) };
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Sequential latency of `call`, after a warm-up. */
export async function sequential(call: (i: number) => Promise<unknown>, n: number, warmup = 500): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await call(i);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call(i);
    samples.push(performance.now() - t);
  }
  return percentiles(samples);
}

/** Calls per second with `inFlight` calls outstanding at all times. */
export async function throughput(call: (i: number) => Promise<unknown>, total: number, inFlight: number): Promise<number> {
  for (let i = 0; i < 500; i++) await call(i);
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < total) await call(next++);
  }));
  return round(total / ((performance.now() - t) / 1000), 0);
}

/** A raw newline-JSON client for bench/baselines/raw_echo.py. */
export function rawPipe(python: string): { call(a: number): Promise<number>; close(): void } {
  const proc = Bun.spawn([python, new URL("./baselines/raw_echo.py", import.meta.url).pathname], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const waiters = new Map<number, (v: number) => void>();
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as { id: number; result: number };
        buf = buf.slice(nl + 1);
        waiters.get(msg.id)?.(msg.result);
        waiters.delete(msg.id);
      }
    }
  })();
  let id = 0;
  let flushQueued = false;
  return {
    call(a) {
      const i = id++;
      return new Promise((resolve) => {
        waiters.set(i, resolve);
        proc.stdin.write(JSON.stringify({ id: i, a, b: 1 }) + "\n");
        if (!flushQueued) {
          flushQueued = true;
          queueMicrotask(() => {
            flushQueued = false;
            proc.stdin.flush();
          });
        }
      });
    },
    close() {
      proc.kill();
    },
  };
}

/** Write results as JSON under bench/results/ (a dated file and `latest-<name>.json`). */
export function saveResults(name: string, data: unknown): string {
  const dir = new URL("./results/", import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
  const text = JSON.stringify(data, null, 2) + "\n";
  writeFileSync(`${dir}${stamp}-${name}.json`, text);
  writeFileSync(`${dir}latest-${name}.json`, text);
  return `${dir}latest-${name}.json`;
}

/** The interpreter every contender uses. */
export function benchPython(): string {
  return process.env.SNAKEPIT_BENCH_PYTHON ?? "/usr/bin/python3";
}

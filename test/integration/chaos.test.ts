// Bounded chaos: many calls while workers are SIGKILLed at random. Figures are printed.
import { expect, test } from "bun:test";
import { ERROR_CODES, Snakepit, SnakepitError } from "../../src/mod.ts";
import { fixture, pidsOfRun, PYTHON, waitUntil } from "../helpers.ts";

const CALLS = 10_000;
const CONCURRENCY = 32;
const KILL_EVERY_MS = 50;
const POOL = 4;

test("chaos: 10 000 calls at 32 in flight while a random worker is SIGKILLed every 50 ms", async () => {
  const pit = await Snakepit.start({
    adapter: fixture("faults.py"), poolSize: POOL, python: PYTHON,
    // Crash storms are the point here: let replacements keep up.
    maxRestarts: 1_000, restartWindowMs: 1_000,
    crashBarrier: { maxRetries: 3 },
  });
  const settled = new Uint8Array(CALLS);
  const outcome: Array<"ok" | string> = new Array(CALLS);
  let kills = 0;
  const killer = setInterval(() => {
    const ready = pit.listWorkers().filter((w) => w.state === "ready");
    const victim = ready[Math.floor(Math.random() * ready.length)];
    if (!victim) return;
    try {
      process.kill(victim.pid, "SIGKILL");
      kills++;
    } catch {
      // already gone
    }
  }, KILL_EVERY_MS);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < CALLS) {
      const i = next++;
      const idempotent = i % 2 === 0;
      await pit.execute("slow", { ms: 1 }, { idempotent, timeoutMs: 30_000 }).then(
        () => {
          settled[i]! += 1;
          outcome[i] = "ok";
        },
        (err: unknown) => {
          settled[i]! += 1;
          outcome[i] = err instanceof SnakepitError && (ERROR_CODES as readonly string[]).includes(err.code) ? err.code : `untyped: ${String(err)}`;
        },
      );
    }
  }));
  clearInterval(killer);
  const seconds = (performance.now() - t0) / 1000;

  const counts: Record<string, number> = {};
  for (const o of outcome) counts[o] = (counts[o] ?? 0) + 1;
  const idem = outcome.filter((_, i) => i % 2 === 0);
  const idemOk = idem.filter((o) => o === "ok").length / idem.length;
  const plainOk = outcome.filter((o, i) => i % 2 === 1 && o === "ok").length / (CALLS / 2);
  console.log(`chaos: ${CALLS} calls in ${seconds.toFixed(1)} s with ${kills} kills; outcomes ${JSON.stringify(counts)}; ` +
    `idempotent ok ${(idemOk * 100).toFixed(2)} %, others ok ${(plainOk * 100).toFixed(2)} % ` +
    `(${((counts.worker_crashed ?? 0) / Math.max(1, kills)).toFixed(2)} lost calls per kill: only a call running on the killed worker is lost)`);

  expect([...settled].every((n) => n === 1)).toBe(true);
  expect(Object.keys(counts).filter((k) => k.startsWith("untyped"))).toEqual([]);
  expect(idemOk).toBeGreaterThanOrEqual(0.999);
  expect(kills).toBeGreaterThan(10);
  expect(await waitUntil(() => pit.listWorkers().filter((w) => w.state === "ready").length === POOL, 10_000)).toBe(true);
  await pit.close();
  expect(pidsOfRun(pit.runId)).toEqual([]);
}, 300_000); // a loaded machine (CI, parallel suites) slows worker restarts a lot

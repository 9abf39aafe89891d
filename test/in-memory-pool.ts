// A Pool of InMemoryWorkers on a fake clock: pool, call and session logic without Python or sleeps.
import { Pool } from "../src/pool/pool.ts";
import { parseConfig, type SnakepitOptions } from "../src/config/parse.ts";
import { sleepOn } from "../src/core/clock.ts";
import { EventBus } from "../src/telemetry/bus.ts";
import { InMemoryWorker, type InMemoryWorkerSpec } from "../src/worker/in-memory-worker.ts";
import { FakeClock } from "./fake-clock.ts";

/** Tools most tests use; `workers` lets a tool reach its own worker (to crash it). */
export function standardTools(workers: Map<string, InMemoryWorker>): InMemoryWorkerSpec["tools"] {
  return {
    echo: { run: (args) => args.value ?? null },
    /** Respects its cancel: ends when aborted. */
    sleep: { run: (args, ctx) => sleepOn(ctx.clock, Number(args.ms ?? 0), ctx.signal).then(() => "slept") },
    /** Ignores its cancel: a blocking call in user code. */
    hang: { run: () => new Promise(() => {}) },
    /** Declares its own deadline; respects its cancel. */
    budgeted: { run: (_args, ctx) => sleepOn(ctx.clock, 10_000, ctx.signal).then(() => "late"), timeoutMs: 500 },
    count: {
      streaming: true,
      run: async function* (args, ctx) {
        for (let i = 0; i < Number(args.n ?? 3); i++) {
          await sleepOn(ctx.clock, Number(args.ms ?? 10), ctx.signal);
          yield i;
        }
      },
    },
    /** Streams `crashAt` chunks, then kills its worker (crashAt 0: before the first chunk), on the first run only when `once`. */
    crashy: {
      streaming: true,
      run: async function* (args, ctx) {
        const crashAt = Number(args.crashAt ?? 0);
        const first = !crashedOnce.has(String(args.key));
        for (let i = 0; i < Number(args.n ?? 3); i++) {
          if (i === crashAt && (first || !args.once)) {
            crashedOnce.add(String(args.key));
            void workers.get(ctx.workerId)!.kill("signal");
            await new Promise(() => {});
          }
          await sleepOn(ctx.clock, 10, ctx.signal);
          yield i;
        }
      },
    },
  };
}

const crashedOnce = new Set<string>();

export interface InMemoryPit {
  pool: Pool;
  clock: FakeClock;
  bus: EventBus;
  workers: Map<string, InMemoryWorker>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Start a pool of in-memory workers (default: one worker, heartbeat off). */
export async function inMemoryPool(options: Partial<SnakepitOptions> = {}, tools?: InMemoryWorkerSpec["tools"]): Promise<InMemoryPit> {
  const clock = new FakeClock();
  const bus = new EventBus();
  const workers = new Map<string, InMemoryWorker>();
  const toolset = tools ?? standardTools(workers);
  const [config] = parseConfig({ adapter: "in-memory", poolSize: 1, heartbeat: { enabled: false }, ...options } as SnakepitOptions);
  const pool = new Pool(config!, {
    runId: "test",
    bus,
    clock,
    createWorker: ({ id, pool: c, hooks, clock: workerClock }) => {
      const w = new InMemoryWorker({ id, tools: toolset, clock: workerClock, capacity: c.workerProfile === "thread" ? c.threadsPerWorker : 1, cancelGraceMs: c.cancelGraceMs }, hooks);
      workers.set(id, w);
      return w;
    },
  });
  await pool.start();
  return { pool, clock, bus, workers, [Symbol.asyncDispose]: () => pool.close({ graceMs: 0 }) };
}

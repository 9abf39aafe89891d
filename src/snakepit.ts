/** The public facade: start pools, call tools, stream, inspect, close. */

import { type InboundHandlers } from "./bridge/channel.ts";
import { parseConfig, type SnakepitOptions } from "./config/parse.ts";
import { SnakepitError } from "./errors.ts";
import { type ExecuteOptions, Pool, type WorkerInfo } from "./pool/pool.ts";
import type { PoolStatsSnapshot } from "./pool/stats.ts";
import { hostEnv } from "./runtime/process.ts";
import { EventBus, type EventName, type SnakepitEvents } from "./telemetry/bus.ts";
import { getBridgeDir, resolvePython } from "./worker/python.ts";
import type { ToolSpec, Worker } from "./worker/worker.ts";

/** Options of one call through the facade. */
export interface CallOptions extends ExecuteOptions {
  /** Pool to use. @default the first pool */
  pool?: string;
}

/** Listeners attached before the pools start (to see start-up events). */
export interface StartHooks {
  on?: { [K in EventName]?: (data: SnakepitEvents[K]) => void };
}

/** Figures of every pool. */
export interface SnakepitStats {
  pools: Record<string, PoolStatsSnapshot>;
  workers: number;
  queued: number;
  inFlight: number;
  requests: number;
  completed: number;
  failed: number;
}

function newRunId(): string {
  const time = Date.now().toString(36).slice(-5);
  const rand = Math.floor(Math.random() * 36 * 36).toString(36).padStart(2, "0");
  return time + rand;
}

/**
 * A running set of Python worker pools.
 *
 * @example
 * ```ts
 * await using pit = await Snakepit.start({ adapter: "./examples/adapters/demo.py:DemoAdapter", poolSize: 2 });
 * console.log(await pit.execute("add", { a: 1, b: 2 })); // 3
 * ```
 */
export class Snakepit implements AsyncDisposable {
  readonly runId: string;
  readonly #pools = new Map<string, Pool>();
  readonly #bus: EventBus;
  #closing: Promise<void> | undefined;

  private constructor(runId: string, bus: EventBus) {
    this.runId = runId;
    this.#bus = bus;
  }

  /** Validate the config, start every pool's workers, and resolve once all are ready. */
  static async start(options: SnakepitOptions, hooks: StartHooks = {}): Promise<Snakepit> {
    const configs = parseConfig(options);
    const pit = new Snakepit(newRunId(), new EventBus());
    for (const [name, handler] of Object.entries(hooks.on ?? {})) {
      pit.#bus.on(name as EventName, handler as (data: unknown) => void);
    }
    const env = hostEnv();
    const bridgeDir = getBridgeDir();
    try {
      for (const config of configs) {
        const python = await resolvePython(config.python);
        const pool = new Pool(config, {
          runId: pit.runId,
          python,
          bridgeDir,
          env,
          bus: pit.#bus,
          inbound: (p, w) => pit.#inbound(p, w),
        });
        pit.#pools.set(config.name, pool);
      }
      await Promise.all([...pit.#pools.values()].map((p) => p.start()));
    } catch (err) {
      await pit.close();
      throw SnakepitError.from(err);
    }
    return pit;
  }

  /**
   * Start, run `fn`, and always close, even when `fn` throws (the seed's run_as_script).
   *
   * @example
   * ```ts
   * const sum = await Snakepit.runScript((pit) => pit.execute("add", { a: 1, b: 2 }), { adapter: "./examples/adapters/demo.py" });
   * ```
   */
  static async runScript<T>(fn: (pit: Snakepit) => Promise<T> | T, options: SnakepitOptions): Promise<T> {
    const pit = await Snakepit.start(options);
    try {
      return await fn(pit);
    } finally {
      await pit.close();
    }
  }

  #inbound(pool: Pool, worker: Worker): InboundHandlers {
    const bus = this.#bus;
    return {
      unary: (method, msg) => {
        if (method === "StreamTelemetry") {
          const events = (msg.events as Array<SnakepitEvents["python.event"]> | undefined) ?? [];
          for (const e of events) {
            bus.emit("python.event", {
              pool: pool.name,
              worker: worker.id,
              name: e.name,
              measurements: e.measurements ?? {},
              metadata: e.metadata ?? {},
              timestampUs: Number(e.timestampUs ?? 0),
            });
          }
          const dropped = Number(msg.dropped ?? 0);
          if (dropped > 0) bus.emit("python.dropped", { pool: pool.name, worker: worker.id, dropped });
          return {};
        }
        if (method === "Log") {
          bus.emit("worker.log", { pool: pool.name, worker: worker.id, line: `${String(msg.level)} ${String(msg.logger)}: ${String(msg.message)}` });
          return {};
        }
        throw new SnakepitError("tool_not_found", `The host has no method "${method}"`);
      },
      stream: (method) => {
        throw new SnakepitError("tool_not_found", `The host has no streaming method "${method}"`);
      },
    };
  }

  #pool(name: string | undefined): Pool {
    if (this.#closing) throw new SnakepitError("pool_closed", "This Snakepit is closed");
    const pool = name === undefined ? this.#pools.values().next().value : this.#pools.get(name);
    if (!pool) {
      throw new SnakepitError("invalid_argument", `No pool named "${name}" (pools: ${[...this.#pools.keys()].join(", ")})`, {
        details: { field: "pool" },
      });
    }
    return pool;
  }

  /** Call a tool and return its result. */
  async execute<T = unknown>(tool: string, args: Record<string, unknown> = {}, options: CallOptions = {}): Promise<T> {
    checkCall(tool, args);
    const { result } = await this.#pool(options.pool).execute(tool, args, options);
    return result as T;
  }

  /** Stream a tool's chunks. Breaking out of the loop cancels the call in Python. */
  stream<T = unknown>(tool: string, args: Record<string, unknown> = {}, options: CallOptions = {}): AsyncGenerator<T, void, undefined> {
    checkCall(tool, args);
    return this.#pool(options.pool).stream(tool, args, options) as AsyncGenerator<T, void, undefined>;
  }

  /** Callback form of `stream` (the seed's execute_stream); resolves when the stream ends. */
  async executeStream<T = unknown>(
    tool: string,
    args: Record<string, unknown>,
    onChunk: (chunk: T) => void | Promise<void>,
    options: CallOptions = {},
  ): Promise<void> {
    for await (const chunk of this.stream<T>(tool, args, options)) await onChunk(chunk);
  }

  /** The tools each pool's adapter exposes. */
  tools(pool?: string): ToolSpec[] {
    return this.#pool(pool).tools;
  }

  /** Names of the pools. */
  get poolNames(): string[] {
    return [...this.#pools.keys()];
  }

  /** Every worker of every pool. */
  listWorkers(): WorkerInfo[] {
    return [...this.#pools.values()].flatMap((p) => p.listWorkers());
  }

  /** Replace a worker without failing a call (drain, stop, start anew); returns the new worker's id. */
  recycleWorker(workerId: string): Promise<string> {
    for (const pool of this.#pools.values()) {
      if (pool.workers.some((w) => w.id === workerId)) return pool.recycle(workerId);
    }
    return Promise.reject(new SnakepitError("not_found", `No worker "${workerId}" (workers: ${this.listWorkers().map((w) => w.id).join(", ")})`, {
      details: { worker: workerId },
    }));
  }

  /** Figures of every pool, and their sums. */
  stats(): SnakepitStats {
    const pools: Record<string, PoolStatsSnapshot> = {};
    const total = { workers: 0, queued: 0, inFlight: 0, requests: 0, completed: 0, failed: 0 };
    for (const [name, pool] of this.#pools) {
      const s = (pools[name] = pool.snapshot());
      total.workers += s.workers;
      total.queued += s.queued;
      total.inFlight += s.inFlight;
      total.requests += s.requests;
      total.completed += s.completed;
      total.failed += s.failed;
    }
    return { pools, ...total };
  }

  /** Subscribe to an event; returns the unsubscribe function. */
  on<K extends EventName>(name: K, handler: (data: SnakepitEvents[K]) => void): () => void {
    return this.#bus.on(name, handler);
  }

  /** Internal: the pool objects (API, tests). Not semver. */
  get pools(): ReadonlyMap<string, Pool> {
    return this.#pools;
  }

  /** Stop every pool: queued calls fail, in-flight calls get the grace period. Idempotent. */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= Promise.all([...this.#pools.values()].map((p) => p.close(options))).then(() => {});
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function checkCall(tool: unknown, args: unknown): void {
  if (typeof tool !== "string" || tool.length === 0) {
    throw new SnakepitError("invalid_argument", `tool must be a non-empty string, got ${JSON.stringify(tool)}`, { details: { field: "tool" } });
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new SnakepitError("invalid_argument", `args of "${tool}" must be an object of named arguments`, { details: { field: "args" } });
  }
}

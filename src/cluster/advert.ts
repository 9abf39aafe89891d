/** What a node advertises in the nodes bucket: its pools, their tools and free capacity. */

/** One pool as a node advertises it. */
export interface PoolAdvert {
  /** Worker processes configured. */
  size: number;
  /** Calls the ready workers can run at once. */
  capacity: number;
  /** Slots free now (capacity - in flight - queued, never below 0). */
  free: number;
  inFlight: number;
  queued: number;
  /** The pool's session affinity mode. */
  affinity: string;
  tools: string[];
}

/** A node's advertisement (one key per node). */
export interface NodeAdvert {
  node: string;
  /** Milliseconds since the epoch at which the node joined. */
  startedAt: number;
  /** Milliseconds since the epoch of this advertisement (node's clock). */
  updatedAt: number;
  pools: Record<string, PoolAdvert>;
  sessions: number;
  /** Calls this node served for other nodes and clients. */
  served: number;
  version: string;
}

/** What the node's load is read from: the facade's public figures. */
export interface LoadSource {
  readonly poolNames: readonly string[];
  listWorkers(): Array<{ pool: string; state: string; capacity: number }>;
  tools: { list(options?: { pool?: string }): Array<{ name: string; pool?: string }> };
  readonly pools: ReadonlyMap<string, { config: { poolSize: number; affinity: string } }>;
}

/**
 * This node's load per pool, cheap enough for every call: the capacity of ready workers (read
 * again when workers come and go) against the calls the cluster layer has handed to the pools
 * and not seen settle (queued in a pool or running), plus calls waiting in the node's own line.
 */
export class LocalLoad {
  readonly #pit: LoadSource;
  readonly #capacity = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();

  constructor(pit: LoadSource) {
    this.#pit = pit;
    this.refresh();
  }

  /** Read the ready workers' capacity again. */
  refresh(): void {
    const workers = this.#pit.listWorkers();
    for (const pool of this.#pit.poolNames) {
      this.#capacity.set(pool, workers.filter((w) => w.pool === pool && w.state === "ready").reduce((n, w) => n + w.capacity, 0));
    }
  }

  begin(pool: string): void {
    this.#inFlight.set(pool, (this.#inFlight.get(pool) ?? 0) + 1);
  }

  end(pool: string): void {
    this.#inFlight.set(pool, Math.max(0, (this.#inFlight.get(pool) ?? 1) - 1));
  }

  /** Free slots now, with `waiting` calls of the node's line counted as taken. */
  free(pool: string, waiting = 0): number {
    return (this.#capacity.get(pool) ?? 0) - (this.#inFlight.get(pool) ?? 0) - waiting;
  }

  /** Calls per slot (in flight, queued, waiting): where a queued call waits least. */
  load(pool: string, waiting = 0): number {
    return ((this.#inFlight.get(pool) ?? 0) + waiting) / Math.max(1, this.#capacity.get(pool) ?? 0);
  }

  /** The advertisement of every pool. */
  adverts(waitingFor: (pool: string) => number): Record<string, PoolAdvert> {
    const out: Record<string, PoolAdvert> = {};
    for (const name of this.#pit.poolNames) {
      const capacity = this.#capacity.get(name) ?? 0;
      const inFlight = this.#inFlight.get(name) ?? 0;
      const waiting = waitingFor(name);
      const config = this.#pit.pools.get(name)?.config;
      out[name] = {
        size: config?.poolSize ?? 0,
        capacity,
        free: Math.max(0, capacity - inFlight - waiting),
        inFlight: Math.min(inFlight, capacity),
        queued: Math.max(0, inFlight - capacity) + waiting,
        affinity: config?.affinity ?? "hint",
        tools: this.#pit.tools.list({ pool: name }).filter((t) => t.pool === name).map((t) => t.name),
      };
    }
    return out;
  }
}

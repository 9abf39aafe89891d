/** Where a call goes: any worker (least loaded, prefetch allowed) or, by session affinity, one worker. */

import { SnakepitError } from "../errors.ts";
import { type AffinityMode, place } from "../session/affinity.ts";
import type { SessionLease } from "../session/lease.ts";
import type { EventBus } from "../telemetry/bus.ts";
import type { WorkerLink } from "../worker/link.ts";
import type { Want } from "./dispatcher.ts";
import { leastLoaded } from "./select.ts";

/** The prefetch settings the picker reads (live: the pool's config). */
export interface PrefetchConfig {
  readonly prefetch: number;
  readonly prefetchMaxServiceMs: number;
}

/** Picks workers round-robin among the least loaded. Nothing is allocated per pick (hot path). */
export class Picker {
  #rr = 0;
  readonly #workers: readonly WorkerLink[];
  readonly #config: PrefetchConfig;

  constructor(workers: readonly WorkerLink[], config: PrefetchConfig) {
    this.#workers = workers;
    this.#config = config;
  }

  readonly #wants = [false, true].map((prefetch): Want => ({ pick: () => this.pick(prefetch), prefetch }));

  /** "Any worker" (one shared object per prefetch setting: nothing to allocate per call). */
  want(prefetch: boolean): Want {
    return this.#wants[prefetch ? 1 : 0]!;
  }

  pick(prefetch: boolean): WorkerLink | undefined {
    const workers = this.#workers;
    let w = leastLoaded(workers, this.#rr);
    if (!w && prefetch && this.#config.prefetch > 0) w = this.#prefetchable();
    if (w) this.#rr = (this.#rr + 1) % Math.max(1, workers.length);
    return w;
  }

  /** The least-loaded worker with room for a prefetched call (leastLoaded's order and ties). */
  #prefetchable(): WorkerLink | undefined {
    const workers = this.#workers;
    const depth = this.#config.prefetch;
    const maxServiceMs = this.#config.prefetchMaxServiceMs;
    const n = workers.length;
    let best: WorkerLink | undefined;
    for (let i = 0; i < n; i++) {
      const w = workers[(this.#rr + i) % n]!;
      if (!w.canPrefetch(depth, maxServiceMs)) continue;
      if (!best || w.inFlight < best.inFlight) {
        best = w;
        if (w.inFlight === 0) break;
      }
    }
    return best;
  }
}

/** The placement of a call of `lease`'s session; throws for strict-mode failures. */
export function want(pool: string, workers: readonly WorkerLink[], picker: Picker, lease: SessionLease | undefined, mode: AffinityMode, prefetch: boolean, bus: EventBus): Want {
  if (!lease) return picker.want(prefetch);
  const placement = place(workers, lease.pinned(pool), mode, lease.id);
  switch (placement.kind) {
    case "any":
      return picker.want(prefetch);
    case "run":
    case "wait":
      return { pick: () => undefined, only: placement.worker };
    case "fail":
      throw placement.error;
    case "lost":
      bus.emit("session.worker_lost", { session: lease.id, pool, worker: placement.workerId });
      throw new SnakepitError(
        "session_worker_lost",
        `Session "${lease.id}" was pinned to worker "${placement.workerId}", which is gone; its state is lost (affinity ${mode})`,
        { details: { session: lease.id, pool, worker: placement.workerId } },
      );
  }
}

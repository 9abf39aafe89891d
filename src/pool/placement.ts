/** Where a call goes: any worker (least loaded, prefetch allowed) or, by session affinity, one worker. */

import { SnakepitError } from "../errors.ts";
import { type AffinityMode, place } from "../session/affinity.ts";
import type { SessionLease } from "../session/lease.ts";
import type { EventBus } from "../telemetry/bus.ts";
import type { WorkerLink } from "../worker/link.ts";
import type { Want } from "./dispatcher.ts";
import { leastLoaded } from "./select.ts";

/** Picks workers round-robin among the least loaded. */
export class Picker {
  #rr = 0;
  readonly #workers: readonly WorkerLink[];
  readonly #prefetch: () => { depth: number; maxServiceMs: number };

  constructor(workers: readonly WorkerLink[], prefetch: () => { depth: number; maxServiceMs: number }) {
    this.#workers = workers;
    this.#prefetch = prefetch;
  }

  readonly #wants = [false, true].map((prefetch): Want => ({ pick: () => this.pick(prefetch), prefetch }));

  /** "Any worker" (one shared object per prefetch setting: nothing to allocate per call). */
  want(prefetch: boolean): Want {
    return this.#wants[prefetch ? 1 : 0]!;
  }

  pick(prefetch: boolean): WorkerLink | undefined {
    const workers = this.#workers;
    let w = leastLoaded(workers, this.#rr);
    if (!w && prefetch) {
      const { depth, maxServiceMs } = this.#prefetch();
      if (depth > 0) w = leastLoaded(workers, this.#rr, (x) => x.canPrefetch(depth, maxServiceMs), true);
    }
    if (w) this.#rr = (this.#rr + 1) % Math.max(1, workers.length);
    return w;
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

/** Worker selection: least loaded among ready workers with a free slot. Pure. */

/** What selection needs to know of a worker. */
export interface Selectable {
  readonly hasCapacity: boolean;
  readonly inFlight: number;
}

/**
 * The least-loaded worker with a free slot, or undefined. Ties go to the first after `start`,
 * so equal workers share the load instead of the first one taking everything.
 */
export function leastLoaded<W extends Selectable>(
  workers: readonly W[],
  start = 0,
  accepts?: (w: W) => boolean,
  busyAllowed = false,
): W | undefined {
  let best: W | undefined;
  const n = workers.length;
  for (let i = 0; i < n; i++) {
    const w = workers[(start + i) % n]!;
    if ((!busyAllowed && !w.hasCapacity) || (accepts && !accepts(w))) continue;
    if (!best || w.inFlight < best.inFlight) {
      best = w;
      if (w.inFlight === 0) break;
    }
  }
  return best;
}

/** Devices (e.g. "cuda:0") assigned to workers; a crashed worker's device is tainted for a while. */

/** The device for a new worker: untainted first, then the fewest workers, then the earliest taint. */
export function chooseDevice(devices: readonly string[], inUse: readonly string[], taintedUntil: ReadonlyMap<string, number>, now: number): string | undefined {
  if (devices.length === 0) return undefined;
  const load = (d: string) => inUse.filter((x) => x === d).length;
  const tainted = (d: string) => (taintedUntil.get(d) ?? 0) > now;
  return [...devices].sort((a, b) =>
    Number(tainted(a)) - Number(tainted(b)) || load(a) - load(b) || (taintedUntil.get(a) ?? 0) - (taintedUntil.get(b) ?? 0)
  )[0];
}

/** Environment for a worker on a device (visibility variables): see hardware/assign.ts. */
export { deviceEnv } from "../hardware/assign.ts";

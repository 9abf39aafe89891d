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

/** Environment for a worker on `device`: SNAKEPIT_DEVICE, and CUDA_VISIBLE_DEVICES for "cuda:N". */
export function deviceEnv(device: string | undefined): Record<string, string> {
  if (!device) return {};
  const cuda = /^cuda:(\d+)$/.exec(device);
  return cuda ? { SNAKEPIT_DEVICE: device, CUDA_VISIBLE_DEVICES: cuda[1]! } : { SNAKEPIT_DEVICE: device };
}

/** The bulk payloads (16 MiB) and how a round trip's rate is taken, shared by compare.ts and bulk-compare.ts. */

import { tableFromArrays, tableToIPC } from "apache-arrow";
import { arrowIPC } from "../src/bridge/arrow.ts";

export const BULK = 16 * 1024 * 1024;

export const bytes = new Uint8Array(BULK);
for (let i = 0; i < BULK; i++) bytes[i] = (i * 2654435761) >>> 24;
export const floats = new Float32Array(BULK / 4).map((_, i) => i * 0.5);
/** The float32 array's bytes. */
export const f = new Uint8Array(floats.buffer);
/** A 16 MiB Arrow table (two float64 columns) as IPC: snakepit sends it as Arrow, uvicorn echoes its bytes. */
export const arrow = arrowIPC(tableToIPC(tableFromArrays({ a: new Float64Array(BULK / 16).map((_, i) => i), b: new Float64Array(BULK / 16).fill(0.5) })));

export function sameBytes(a: Uint8Array, b: Uint8Array, who: string): void {
  if (a.length !== b.length || a[12345] !== b[12345] || a[a.length - 1] !== b[b.length - 1]) throw new Error(`${who}: bulk echo came back wrong (${b.length} bytes)`);
}

/** MiB/s of a 16 MiB round trip: one warm-up, then the median of 3. */
export async function bulkRate(trip: () => Promise<void>): Promise<number> {
  await trip();
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await trip();
    xs.push(16 / ((performance.now() - t) / 1000));
  }
  return xs.sort((a, b) => a - b)[1]!;
}

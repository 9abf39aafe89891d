/**
 * `releaseShared(value)`: free now the shared-memory results held in a value (typed arrays,
 * `NDArray`s, `ArrowIPC`s, and those inside arrays and plain objects), instead of waiting for
 * the garbage collector. Views over a released result read as empty; an `ArrowIPC` throws.
 */

import { ArrowIPC } from "./arrow.ts";
import { isNDArray } from "./codec.ts";
import { releaseMapping } from "./shm-lifecycle.ts";

const MAX_DEPTH = 32;

/** Free every shared-memory result in `value`; returns the bytes freed (0 when none was shared). */
export function releaseShared(value: unknown): number {
  return release(value, 0, new Set());
}

function release(value: unknown, depth: number, seen: Set<object>): number {
  if (typeof value !== "object" || value === null || seen.has(value) || depth > MAX_DEPTH) return 0;
  seen.add(value);
  if (value instanceof ArrowIPC) return value.release();
  if (ArrayBuffer.isView(value)) return releaseMapping(value.buffer);
  if (value instanceof ArrayBuffer) return releaseMapping(value);
  if (isNDArray(value)) return releaseMapping(value.data.buffer);
  let freed = 0;
  const items = value instanceof Map ? value.values() : Array.isArray(value) ? value : Object.values(value);
  for (const item of items) freed += release(item, depth + 1, seen);
  return freed;
}

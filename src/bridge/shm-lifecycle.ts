/**
 * Lifecycle of shared-memory payloads on the host.
 *
 * Results a worker sends through shared memory are typed arrays over a mapping of a segment that
 * was unlinked as soon as it was mapped: the memory lives until the mapping goes. `release()`
 * drops it at once: every view over it is detached (length 0: reading gives `undefined`, never a
 * crash), and on Linux under Bun the pages are replaced by an inaccessible reservation
 * (mmap MAP_FIXED, PROT_NONE), which frees the segment; the garbage collector later removes the
 * reservation. Without `release()` the garbage collector frees the mapping as before.
 * A result in a pooled segment (shm-peer.ts) is a view that does not own its memory: release
 * and collection detach it and hand the segment back to the worker's pool instead.
 *
 * Segments the host sent and the worker has not mapped yet are "in transit": they are unlinked
 * when that worker's channel closes (the worker died or was stopped before reading them).
 */

import { existsSync, unlinkSync } from "node:fs";
import { loadFfi } from "./shm-ffi.ts";
import { peerStats } from "./shm-peer.ts";
import { leaseOut, poolStats, settleLease } from "./shm-pool.ts";

const DIR = "/dev/shm";

interface Mapping {
  name: string;
  size: number;
  released: boolean;
  /** Pooled segments: hand the memory back to its owner's pool (the view does not own the mapping). */
  free?: (() => void) | undefined;
}

const counts = { mapped: 0, mappedBytes: 0, released: 0, collected: 0 };
const mappings = new WeakMap<ArrayBuffer, Mapping>();
const inTransit = new Map<string, number>();
const collected = new FinalizationRegistry<Mapping>((m) => {
  if (m.released) return;
  m.released = true;
  counts.mapped--;
  counts.mappedBytes -= m.size;
  counts.collected++;
  m.free?.();
});

/** Count a fresh mapping of segment `name` and let `release()` find it. */
export function trackMapping(view: Uint8Array, name: string, free?: () => void): Uint8Array {
  const m: Mapping = { name, size: view.byteLength, released: false, free };
  mappings.set(view.buffer as ArrayBuffer, m);
  collected.register(view.buffer, m, m);
  counts.mapped++;
  counts.mappedBytes += m.size;
  // `using bytes = await pit.execute(...)` frees it at the end of the block.
  Object.defineProperty(view, Symbol.dispose, { value: () => releaseMapping(view.buffer), enumerable: false });
  return view;
}

/** True while `buffer` is a live shared-memory mapping. */
export function isMapped(buffer: ArrayBufferLike): boolean {
  const m = mappings.get(buffer as ArrayBuffer);
  return !!m && !m.released;
}

/** True when `buffer` was a shared-memory mapping that has been released (its views read as empty). */
export function wasReleased(buffer: ArrayBufferLike): boolean {
  return mappings.get(buffer as ArrayBuffer)?.released === true;
}

/** Free the mapping under `buffer` now. Returns the bytes freed (0: not a live mapping). */
export function releaseMapping(buffer: ArrayBufferLike): number {
  const m = mappings.get(buffer as ArrayBuffer);
  if (!m || m.released) return 0;
  const buf = buffer as ArrayBuffer & { transfer?: (length?: number) => ArrayBuffer };
  if (m.free) {
    // A view into a pooled segment: detach it (nothing is copied), then its owner may reuse it.
    try {
      const transfer = (ArrayBuffer.prototype as { transfer?: (length?: number) => ArrayBuffer }).transfer;
      if (typeof transfer === "function") transfer.call(buf, 0); // the prototype's: the instance's copies (shm-peer.ts)
      else structuredClone(buf, { transfer: [buf] });
    } catch {
      return 0; // pinned by a native call: the views stay valid, the collector hands it back
    }
  }
  m.released = true;
  collected.unregister(m);
  counts.mapped--;
  counts.mappedBytes -= m.size;
  counts.released++;
  if (m.free) {
    m.free();
    return m.size;
  }
  const c = loadFfi();
  try {
    const before = c ? c.ptr(new Uint8Array(buf)) : 0;
    // Detach every view first (they read as empty), keeping the mapping owned by `moved`.
    const moved = typeof buf.transfer === "function" ? buf.transfer() : structuredClone(buf, { transfer: [buf] });
    if (c && before && moved.byteLength === m.size && c.ptr(new Uint8Array(moved)) === before) c.remapNone(before, m.size);
  } catch {
    // Pinned by a native call: the views stay valid and the garbage collector frees the memory.
  }
  return m.size;
}

/** Remember a segment this host created until its worker maps it (or the channel closes). */
export function noteSent(name: string, size: number): void {
  inTransit.set(name, size);
}

/**
 * Segments sent for a call that ended, or on a channel that closed (`gone`: its worker died or
 * was stopped). Named ones the worker did not map are unlinked; pooled leases it did not take go
 * back to the pool, and those it held when it went are retired. Returns how many were taken back.
 */
export function dropInTransit(names: Iterable<string>, gone = false): number {
  let removed = 0;
  for (const name of names) {
    if (name.startsWith("#")) {
      if (settleLease(name, gone)) removed++;
      continue;
    }
    if (!inTransit.delete(name)) continue;
    try {
      unlinkSync(`${DIR}/${name}`);
      removed++;
    } catch {
      // Mapped (and unlinked) by the worker.
    }
  }
  return removed;
}

/** Forget sent names the worker has mapped (their file is gone) and leases it gave back; returns the rest. */
export function pruneSent(names: string[]): string[] {
  const left: string[] = [];
  for (const n of names) {
    if (n.startsWith("#")) {
      if (leaseOut(n)) left.push(n);
    } else if (inTransit.has(n) && existsSync(`${DIR}/${n}`)) left.push(n);
    else inTransit.delete(n);
  }
  return left;
}

/** Shared-memory figures of this host (all pools): a leak shows as `mapped` growing. */
export interface ShmStats {
  /** Mappings of results the host still holds, and their bytes. */
  mapped: number;
  mappedBytes: number;
  /** Mappings freed by `release()`, and by the garbage collector. */
  released: number;
  collected: number;
  /** Segments sent to workers and not mapped by them yet, and their bytes. */
  inTransit: number;
  inTransitBytes: number;
  /** The host's pool of reusable segments (arguments): how many, their bytes, how many are lent now. */
  pool: { segments: number; bytes: number; lent: number };
  /**
   * Workers' pooled segments (results) the host keeps mapped, their bytes, and how many results
   * were copied out because earlier unreleased results pinned a quarter of a worker's pool.
   */
  peers: { segments: number; bytes: number; copiedOut: number };
}

export function shmStats(): ShmStats {
  pruneSent([...inTransit.keys()]);
  let bytes = 0;
  for (const size of inTransit.values()) bytes += size;
  return { ...counts, inTransit: inTransit.size, inTransitBytes: bytes, pool: poolStats(), peers: peerStats() };
}

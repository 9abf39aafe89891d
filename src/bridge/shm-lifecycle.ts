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
 * detaches it and hands the segment back to the worker's pool; otherwise the buffer's native
 * deallocator does, when its memory is really let go (after the buffer was moved by
 * `transfer()` or a transfer list too, never before: a FinalizationRegistry on the buffer
 * object would fire when the empty, moved-from object is collected).
 *
 * Segments the host sent and the worker has not mapped yet are "in transit": they are unlinked
 * when that worker's channel closes (the worker died or was stopped before reading them).
 */

import { existsSync, unlinkSync } from "node:fs";
import { loadFfi, SHM_DIR as DIR } from "./shm-ffi.ts";
import { peerStats } from "./shm-peer.ts";
import { type LeaseRef, leaseOut, poolStats, settleLease } from "./shm-pool.ts";

/** What in-transit bookkeeping keeps per payload sent: a one-shot segment's name, or a pooled lease. */
export type SentRef = string | LeaseRef;

export interface Mapping {
  name: string;
  size: number;
  released: boolean;
  /** Pooled segments: hand the memory back to its owner's pool (the view does not own the mapping). */
  free?: (() => void) | undefined;
}

const counts = { mapped: 0, mappedBytes: 0, released: 0, collected: 0 };
const mappings = new WeakMap<ArrayBuffer, Mapping>();
const inTransit = new Map<string, number>();
/** The mapping's memory was let go without `release()` (collected, or moved and collected). */
export function mappingCollected(m: Mapping): void {
  if (m.released) return;
  m.released = true;
  counts.mapped--;
  counts.mappedBytes -= m.size;
  counts.collected++;
  m.free?.();
}

const collected = new FinalizationRegistry<Mapping>(mappingCollected);

/**
 * Count a fresh mapping and let `release()` find it. A pooled view (`m.free` set) is handed back
 * by its buffer's deallocator (shm-peer.ts calls `mappingCollected`); others when collected.
 */
export function trackMapping(view: Uint8Array, m: Mapping): Uint8Array {
  mappings.set(view.buffer as ArrayBuffer, m);
  if (!m.free) collected.register(view.buffer, m, m);
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
    m.released = true; // first: the buffer's deallocator may run during the detach, and must then do nothing
    try {
      if (typeof buf.transfer === "function") buf.transfer(0);
      else structuredClone(buf, { transfer: [buf] });
    } catch {
      m.released = false;
      return 0; // pinned by a native call: the views stay valid, the deallocator hands it back
    }
  }
  m.released = true;
  if (!m.free) collected.unregister(m);
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
 * Segments sent for a call that ended (`failedInternal`: with an `internal` error, as when the
 * worker could not open them), or on a channel that closed (`peerGone`: its worker died or was
 * stopped). Named ones the worker did not map are unlinked; pooled leases it did not take go
 * back to the pool, and those it held when it went are retired. Returns how many were taken back.
 */
export function dropInTransit(names: Iterable<SentRef>, options: { peerGone?: boolean; failedInternal?: boolean } = {}): number {
  let removed = 0;
  for (const name of names) {
    if (typeof name !== "string") {
      if (settleLease(name, options)) removed++;
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
export function pruneSent(names: SentRef[]): SentRef[] {
  const left: SentRef[] = [];
  for (const n of names) {
    if (typeof n !== "string") {
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

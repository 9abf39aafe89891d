/**
 * A pool of reusable shared-memory segments this process owns (host side; the worker's twin is
 * python/snakepit_bridge/shm_pool.py).
 *
 * A fresh 16 MiB segment costs ~14 ms before the first byte lands (4096 tmpfs pages allocated,
 * zeroed and charged; then freed again when the last mapping goes), while copying into pages
 * that are already there and already mapped costs ~1 ms. So payloads up to half the pool's
 * budget go into segments that stay mapped on both sides and are reused:
 *
 * - a segment is a nameless tmpfs file (`O_TMPFILE` in /dev/shm, mode 0600): nothing ever
 *   appears in /dev/shm, and the kernel frees it when the last process holding it goes;
 * - the handle on the wire is `{ pid, fd, id, lease, off, size }`; the peer opens
 *   `/proc/<pid>/fd/<fd>` once (same user only), checks it, and keeps it mapped;
 * - a 64-byte header holds the segment's state, written by whoever holds the turn:
 *   the owner sets LENT (and a new lease number) before sending, the peer sets HELD when it
 *   makes the view and FREE when its last view is gone (released or collected); only a FREE
 *   segment is written again. A lease the peer never took is freed when its call ends; one
 *   held by a worker that died is retired (the dead process's pages go with it).
 * - the pool holds at most SNAKEPIT_SHM_POOL_BYTES (default 64 MiB) per process; segments idle
 *   for 30 s are retired. When the pool is full, payloads go the one-shot way (shm.ts).
 */

import { closeSync, constants, fstatSync, ftruncateSync, openSync } from "node:fs";
import { loadFfi } from "./shm-ffi.ts";

/** Header: Int32 words. */
export const HEADER_BYTES = 64;
export const W_STATE = 0;
export const W_LEASE = 1;
export const W_MAGIC = 2;
export const W_ID = 3; // and 4
export const MAGIC = 0x504b4e53; // "SNKP"
export const FREE = 0;
export const LENT = 1;
export const HELD = 2;
export const RETIRED = 3;

const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;
const IDLE_MS = 30_000;
const G = globalThis as unknown as { Bun?: { mmap(path: string): Uint8Array } };

/** A pooled handle as it travels on the wire. */
export interface PooledHandle {
  pid: number;
  fd: number;
  id: string;
  lease: number;
  off: number;
  size: number;
}

interface Segment {
  fd: number;
  id: string;
  cap: number;
  map: Uint8Array;
  head: Int32Array;
  lastUsedMs: number;
}

const own = new Map<number, Segment>(); // by fd
let budget = 64 << 20;
let poolBytes = 0;
let works: boolean | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

/** Set the pool's budget in bytes (0 turns pooling off). */
export function setPoolBudget(bytes: number): void {
  budget = Math.max(0, bytes);
  trim(Date.now(), true);
}

export function poolBudget(): number {
  return works === false ? 0 : budget;
}

/** Capacity for a payload of `size` bytes: rounded up to 1/32 of its power of two (≤ 6.25% spare). */
function capacityFor(size: number): number {
  const need = size + HEADER_BYTES;
  const step = Math.max(64 << 10, 2 ** Math.ceil(Math.log2(need)) / 32);
  return Math.ceil(need / step) * step;
}

function create(cap: number): Segment | undefined {
  let fd: number;
  try {
    fd = openSync("/dev/shm", O_TMPFILE | constants.O_RDWR, 0o600);
  } catch {
    works = false; // no O_TMPFILE here: one-shot segments only
    return undefined;
  }
  try {
    ftruncateSync(fd, cap);
    const map = G.Bun!.mmap(`/proc/self/fd/${fd}`);
    const head = new Int32Array(map.buffer, map.byteOffset, HEADER_BYTES / 4);
    const rand = crypto.getRandomValues(new Uint32Array(2));
    head[W_MAGIC] = MAGIC;
    head[W_ID] = rand[0]!;
    head[W_ID + 1] = rand[1]!;
    const id = `${rand[0]!.toString(16).padStart(8, "0")}${rand[1]!.toString(16).padStart(8, "0")}`;
    return { fd, id, cap: fstatSync(fd).size, map, head, lastUsedMs: Date.now() };
  } catch {
    closeSync(fd);
    return undefined;
  }
}

function retire(seg: Segment): void {
  own.delete(seg.fd);
  poolBytes -= seg.cap;
  Atomics.store(seg.head, W_STATE, RETIRED);
  closeSync(seg.fd);
  // Nothing outside this module sees `map`: give its pages back now (the peer's mapping, if any, keeps them until it drops it).
  const ffi = loadFfi();
  if (ffi) ffi.remapNone(ffi.ptr(seg.map), seg.map.byteLength);
}

/** Retire FREE segments idle for 30 s (all FREE ones when `all`), and those over the budget. */
function trim(nowMs: number, all = false): void {
  for (const seg of own.values()) {
    if (Atomics.load(seg.head, W_STATE) !== FREE) continue;
    if (all ? poolBytes > budget || budget === 0 : nowMs - seg.lastUsedMs > IDLE_MS) retire(seg);
  }
  if (own.size === 0 && timer) {
    clearInterval(timer);
    timer = undefined;
  }
}

/** Copy `bytes` into a free pooled segment and lend it; undefined when the pool cannot take it. */
export function lend(bytes: Uint8Array): PooledHandle | undefined {
  if (works === false || bytes.byteLength > budget / 2 || !loadFfi()) return undefined;
  const now = Date.now();
  const cap = capacityFor(bytes.byteLength);
  let best: Segment | undefined;
  for (const seg of own.values()) {
    if (seg.cap < cap || seg.cap > 2 * cap || Atomics.load(seg.head, W_STATE) !== FREE) continue;
    if (!best || seg.cap < best.cap) best = seg;
  }
  if (!best) {
    // Make room from idle segments of other sizes before giving up.
    for (const seg of own.values()) {
      if (poolBytes + cap <= budget) break;
      if (Atomics.load(seg.head, W_STATE) === FREE) retire(seg);
    }
    if (poolBytes + cap > budget) return undefined;
    best = create(cap);
    if (!best) return undefined;
    own.set(best.fd, best);
    poolBytes += best.cap;
    timer ??= setInterval(() => trim(Date.now()), IDLE_MS / 3);
    (timer as { unref?: () => void }).unref?.();
  }
  best.lastUsedMs = now;
  best.map.set(bytes, HEADER_BYTES);
  const lease = (Atomics.load(best.head, W_LEASE) + 1) | 0;
  Atomics.store(best.head, W_LEASE, lease);
  Atomics.store(best.head, W_STATE, LENT);
  return { pid: process.pid, fd: best.fd, id: best.id, lease, off: HEADER_BYTES, size: bytes.byteLength };
}

/** The token in-transit bookkeeping keeps for a lease. */
export function leaseToken(h: PooledHandle): string {
  return `#${h.fd}:${h.id}:${h.lease}`;
}

/**
 * A lease's call ended (`gone` false: what the peer did not take, it never will) or its peer's
 * channel closed (`gone` true: a lease it held dies with it). Returns true when it was taken back.
 */
export function settleLease(token: string, gone: boolean): boolean {
  const [fd, id, lease] = token.slice(1).split(":");
  const seg = own.get(Number(fd));
  if (!seg || seg.id !== id || Atomics.load(seg.head, W_LEASE) !== Number(lease)) return false;
  const state = Atomics.load(seg.head, W_STATE);
  if (state === LENT) {
    Atomics.store(seg.head, W_STATE, FREE);
    return true;
  }
  if (state === HELD && gone) {
    retire(seg);
    return true;
  }
  return false;
}

/** The host's own pool: segments, bytes, and how many are lent out right now. */
export function poolStats(): { segments: number; bytes: number; lent: number } {
  let lent = 0;
  for (const seg of own.values()) if (Atomics.load(seg.head, W_STATE) !== FREE) lent++;
  return { segments: own.size, bytes: poolBytes, lent };
}

/** True while the lease behind `token` is out (lent and not yet given back). */
export function leaseOut(token: string): boolean {
  const [fd, id, lease] = token.slice(1).split(":");
  const seg = own.get(Number(fd));
  return !!seg && seg.id === id && Atomics.load(seg.head, W_LEASE) === Number(lease) && Atomics.load(seg.head, W_STATE) !== FREE;
}

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
 * - a segment's pages are reserved when it is made (posix_fallocate): writing through a mapping
 *   of a sparse tmpfs file on a full /dev/shm raises SIGBUS; reserved, a full /dev/shm is ENOSPC
 *   at creation, and the payload goes one-shot or through the pipe;
 * - the pool holds at most SNAKEPIT_SHM_POOL_BYTES (default 64 MiB, less on a small /dev/shm:
 *   shm.ts) per process; segments idle for 30 s are retired. When the pool is full, payloads go
 *   the one-shot way (shm.ts).
 */

import { closeSync, constants, fstatSync, ftruncateSync, openSync } from "node:fs";
import { loadFfi, mmapFile, SHM_DIR } from "./shm-ffi.ts";

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
/** open(O_TMPFILE) errors that mean "this filesystem has no O_TMPFILE"; any other is this segment's problem. */
const NO_TMPFILE = new Set(["EOPNOTSUPP", "ENOTSUP", "EISDIR", "EINVAL"]);

/** What in-transit bookkeeping keeps for a lease (shm-lifecycle.ts). */
export interface LeaseRef {
  fd: number;
  id: string;
  lease: number;
}

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
}

/**
 * The budget in force: 0 where pooling cannot work here: no O_TMPFILE, no native helpers (a
 * peer's results could not be mapped), or an undumpable process (a peer cannot open our
 * /proc/<pid>/fd; checked each time: prctl can change it at any moment).
 */
export function poolBudget(): number {
  const ffi = loadFfi();
  return works === false || !ffi || !ffi.dumpable() ? 0 : budget;
}

/** A worker's budget for the results it lends us: 0 when this host could not map them (no native helpers). */
export function peerBudget(): number {
  return loadFfi() ? budget : 0;
}

/** The last reason a segment could not be made (for errors and logs). */
export let lastCreateError: string | undefined;

/** Capacity for a payload of `size` bytes: rounded up to 1/32 of its power of two (≤ 6.25% spare). */
function capacityFor(size: number): number {
  const need = size + HEADER_BYTES;
  const step = Math.max(64 << 10, 2 ** Math.ceil(Math.log2(need)) / 32);
  return Math.ceil(need / step) * step;
}

function create(cap: number): Segment | undefined {
  let fd: number;
  try {
    fd = openSync(SHM_DIR, O_TMPFILE | constants.O_RDWR, 0o600);
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (NO_TMPFILE.has(code)) works = false; // no O_TMPFILE here: one-shot segments only
    lastCreateError = (err as Error).message; // EMFILE, ENOMEM...: this time only
    return undefined;
  }
  try {
    ftruncateSync(fd, cap);
    // Reserve every page now: a sparse segment on a full tmpfs raises SIGBUS when written through the mapping.
    const errno = loadFfi()!.fallocate(fd, cap);
    if (errno !== 0) throw new Error(`posix_fallocate of a ${cap}-byte segment in ${SHM_DIR} failed (errno ${errno}${errno === 28 ? ": no space left" : ""})`);
    const map = mmapFile(`/proc/self/fd/${fd}`);
    const head = new Int32Array(map.buffer, map.byteOffset, HEADER_BYTES / 4);
    const rand = crypto.getRandomValues(new Uint32Array(2));
    head[W_MAGIC] = MAGIC;
    head[W_ID] = rand[0]!;
    head[W_ID + 1] = rand[1]!;
    const id = `${rand[0]!.toString(16).padStart(8, "0")}${rand[1]!.toString(16).padStart(8, "0")}`;
    return { fd, id, cap: fstatSync(fd).size, map, head, lastUsedMs: Date.now() };
  } catch (err) {
    lastCreateError = (err as Error).message;
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
  if (bytes.byteLength > poolBudget() / 2) return undefined;
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

/** The record in-transit bookkeeping keeps for a lease. */
export function leaseRef(h: PooledHandle): LeaseRef {
  return { fd: h.fd, id: h.id, lease: h.lease };
}

function segmentOf(ref: LeaseRef): Segment | undefined {
  const seg = own.get(ref.fd);
  return seg && seg.id === ref.id && Atomics.load(seg.head, W_LEASE) === ref.lease ? seg : undefined;
}

/**
 * A lease's call ended (what the peer did not take, it never will) or, with `peerGone`, its
 * peer's channel closed (a lease it held dies with it). Returns true when it was taken back.
 */
export function settleLease(ref: LeaseRef, options: { peerGone?: boolean; failedInternal?: boolean } = {}): boolean {
  const seg = segmentOf(ref);
  const state = seg ? Atomics.load(seg.head, W_STATE) : FREE;
  if (state === LENT && options.failedInternal) unopenable();
  if (!seg) return false;
  if (state === LENT) {
    Atomics.store(seg.head, W_STATE, FREE);
    return true;
  }
  if (state === HELD && options.peerGone) {
    retire(seg);
    return true;
  }
  return false;
}

/**
 * A worker failed a call with `internal` without taking the segment lent for it: it could not
 * open this host's /proc/<pid>/fd (an LSM policy, another PID namespace; undumpable is checked
 * up front). That call failed; from now on this process sends arguments one-shot.
 */
function unopenable(): void {
  works = false;
  lastCreateError = `a worker could not open this host's pooled segments (/proc/${process.pid}/fd): one-shot segments from now on`;
}

/** The host's own pool: segments, bytes, and how many are lent out right now. */
export function poolStats(): { segments: number; bytes: number; lent: number } {
  let lent = 0;
  for (const seg of own.values()) if (Atomics.load(seg.head, W_STATE) !== FREE) lent++;
  return { segments: own.size, bytes: poolBytes, lent };
}

/** True while the lease behind `ref` is out (lent and not yet given back). */
export function leaseOut(ref: LeaseRef): boolean {
  const seg = segmentOf(ref);
  return !!seg && Atomics.load(seg.head, W_STATE) !== FREE;
}

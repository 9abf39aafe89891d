/**
 * Pooled segments a worker lends the host (its results): opened once through
 * `/proc/<worker pid>/fd/<fd>`, checked (a nameless tmpfs file of ours, mode 0600, the header's
 * magic and id), kept mapped, and reused for later results. Each result is a fresh ArrayBuffer
 * over its part of the mapping (no copy); when it is released or collected, the header says
 * FREE and the worker writes its next result there. See shm-pool.ts for the protocol.
 *
 * The host unmaps a worker's segment once no result uses it and the worker retired it or died
 * (checked when results arrive, when the worker's channel closes, and every 10 s while any is
 * mapped). Only the channel's own worker's segments are accepted.
 */

import { closeSync, constants, fstatSync, openSync, type Stats, statSync } from "node:fs";
import { SnakepitError } from "../errors.ts";
import { loadFfi, mmapFile, SHM_DIR } from "./shm-ffi.ts";
import { FREE, HEADER_BYTES, HELD, LENT, MAGIC, peerBudget, type PooledHandle, RETIRED, W_ID, W_LEASE, W_MAGIC, W_STATE } from "./shm-pool.ts";
import { mappingCollected, trackMapping } from "./shm-lifecycle.ts";

interface Peer {
  pid: number;
  fd: number;
  id: string;
  map: Uint8Array;
  address: number;
  head: Int32Array;
  views: number;
  /** Its worker's channel closed: unmap when the last view goes. */
  gone: boolean;
}

const peers = new Map<string, Peer>(); // by "pid:fd"
/** Per worker pid: bytes of its pooled results the caller has not released and the collector has not freed yet. */
const pinned = new Map<number, number>();
let copiedOut = 0;
let shmDev: number | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

function bad(handle: unknown, why: string): SnakepitError {
  return new SnakepitError("internal", `Refusing pooled shared-memory handle ${JSON.stringify(handle)}: ${why}`);
}

function idOf(head: Int32Array): string {
  return `${(head[W_ID]! >>> 0).toString(16).padStart(8, "0")}${(head[W_ID + 1]! >>> 0).toString(16).padStart(8, "0")}`;
}

function isHandle(h: Partial<PooledHandle>): h is PooledHandle {
  const ints = [h.pid, h.fd, h.lease, h.off, h.size];
  return ints.every((n) => Number.isInteger(n)) && h.pid! > 0 && h.fd! >= 0 && h.off! >= HEADER_BYTES && h.size! >= 0 && typeof h.id === "string" && /^[0-9a-f]{16}$/.test(h.id);
}

/** Throws unless `st` is a private nameless tmpfs file of ours. */
function check(h: PooledHandle, st: Stats): void {
  shmDev ??= statSync(SHM_DIR).dev;
  const uid = process.getuid?.();
  if (!st.isFile() || st.dev !== shmDev || st.nlink !== 0 || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0 || st.size < HEADER_BYTES) {
    throw bad(h, `not a private nameless ${SHM_DIR} file of ours (owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)}, links ${st.nlink}, size ${st.size})`);
  }
}

function open(h: PooledHandle): Peer {
  const path = `/proc/${h.pid}/fd/${h.fd}`; // a magic link: O_NOFOLLOW would refuse it
  let fd: number;
  try {
    check(h, statSync(path)); // before opening: a device or FIFO must never be opened
    fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch (cause) {
    if (cause instanceof SnakepitError) throw cause;
    throw new SnakepitError("internal", `Pooled shared-memory segment ${h.pid}/${h.fd} cannot be opened: ${(cause as Error).message}`, { cause });
  }
  try {
    check(h, fstatSync(fd)); // the same file (the link may have changed in between)
    const map = mmapFile(`/proc/self/fd/${fd}`);
    const head = new Int32Array(map.buffer, map.byteOffset, HEADER_BYTES / 4);
    if (head[W_MAGIC] !== MAGIC) throw bad(h, "no segment header");
    const peer = { pid: h.pid, fd: h.fd, id: idOf(head), map, address: loadFfi()!.ptr(map), head, views: 0, gone: false };
    if (!timer) {
      timer = setInterval(sweepPeers, 10_000);
      (timer as { unref?: () => void }).unref?.();
    }
    return peer;
  } finally {
    closeSync(fd);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

/** Unmap `peer` if no result uses it and its owner retired it or died (or `force`: it was replaced). */
function maybeDrop(key: string, peer: Peer, force = false): void {
  if (peer.views > 0) return;
  if (!force && !peer.gone && Atomics.load(peer.head, W_STATE) !== RETIRED && alive(peer.pid)) return;
  if (peers.get(key) === peer) peers.delete(key);
  loadFfi()!.remapNone(peer.address, peer.map.byteLength);
  if (peers.size === 0 && timer) {
    clearInterval(timer);
    timer = undefined;
  }
}

/** Unmap workers' segments nobody uses any more (retired, or their worker died). */
export function sweepPeers(): void {
  for (const [key, peer] of peers) maybeDrop(key, peer);
}

/** Worker `pid`'s channel closed: unmap its segments no result uses (its pid may be reused at once). */
export function dropPeersOf(pid: number): void {
  for (const [key, peer] of peers) {
    if (peer.pid !== pid) continue;
    peer.gone = true;
    peers.delete(key);
    maybeDrop(key, peer, true);
  }
}

/** A result worker `peerPid` lent: a view over its pooled segment (no copy) that hands it back when freed. */
export function takePooled(handle: unknown, peerPid: number | undefined): Uint8Array {
  const h = handle as Partial<PooledHandle>;
  if (!isHandle(h)) throw bad(handle, "malformed");
  if (h.pid !== peerPid) throw bad(handle, `it names process ${h.pid}, not this channel's worker (${peerPid ?? "unknown"})`);
  if (!loadFfi()) throw bad(handle, "this host cannot map pooled segments (no bun:ffi with glibc)");
  const key = `${h.pid}:${h.fd}`;
  let peer = peers.get(key);
  if (peer && (peer.id !== h.id || Atomics.load(peer.head, W_STATE) === RETIRED)) {
    peers.delete(key); // the worker retired it; the fd number now names another segment
    maybeDrop(key, peer, true);
    peer = undefined;
  }
  if (!peer) {
    peer = open(h);
    if (peer.id !== h.id) {
      maybeDrop(key, peer, true);
      throw bad(handle, "its segment is gone (the worker retired it)");
    }
    peers.set(key, peer);
  }
  const p = peer;
  if (h.off + h.size > p.map.byteLength) throw bad(handle, `past the segment's end (${p.map.byteLength} bytes)`);
  if (Atomics.load(p.head, W_LEASE) !== h.lease || Atomics.compareExchange(p.head, W_STATE, LENT, HELD) !== LENT) {
    throw bad(handle, "its lease is over (the worker took the segment back)");
  }
  const held = pinned.get(h.pid) ?? 0;
  if (held + h.size > peerBudget() / 4) {
    // The caller's earlier results (released late, or left to a collector that cannot see their
    // size) already pin a quarter of this worker's pool: copy this one out (~1.3 ms per 16 MiB) and hand
    // the segment straight back, rather than let the worker fall back to fresh segments (~14 ms).
    const copy = p.map.slice(h.off, h.off + h.size);
    Atomics.compareExchange(p.head, W_STATE, HELD, FREE);
    copiedOut++;
    return copy;
  }
  p.views++;
  pinned.set(h.pid, held + h.size);
  let given = false;
  const mapping = {
    name: `${h.pid}/${h.fd}`,
    size: h.size,
    released: false,
    free: () => { // once: by release(), or by the deallocator when the memory is let go, wherever it moved
      if (given) return;
      given = true;
      if (Atomics.load(p.head, W_LEASE) === h.lease) Atomics.compareExchange(p.head, W_STATE, HELD, FREE);
      p.views--;
      const left = (pinned.get(h.pid) ?? h.size) - h.size;
      if (left > 0) pinned.set(h.pid, left);
      else pinned.delete(h.pid);
      maybeDrop(key, p);
    },
  };
  const buffer = loadFfi()!.toArrayBuffer(p.address, h.off, h.size, () => mappingCollected(mapping));
  return trackMapping(new Uint8Array(buffer), mapping);
}

/** Workers' segments the host keeps mapped, and their bytes. */
export function peerStats(): { segments: number; bytes: number; copiedOut: number } {
  let bytes = 0;
  for (const p of peers.values()) bytes += p.map.byteLength;
  return { segments: peers.size, bytes, copiedOut };
}

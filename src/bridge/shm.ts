/**
 * Big payloads through shared memory instead of the pipe (Linux, Bun).
 *
 * Payloads up to half the pool's budget go through reusable segments that stay mapped on both
 * sides (shm-pool.ts, shm-peer.ts): no fresh pages per call. The rest, and everything when the
 * pool is full or off, go through one-shot segments, described here.
 *
 * The sender creates a private tmpfs file (`/dev/shm/snakepit-<host pid>-…`, O_EXCL, mode 0600,
 * never followed through a symlink), writes the payload once and sends only its handle
 * `{ name, size }`; the receiver opens it, maps it and unlinks the name at once. From then on the
 * memory is anonymous: it lives exactly as long as the mappings that use it (Python: the numpy
 * array or memoryview over the mapping, freed by reference counting when the call drops it;
 * host: the typed array over `Bun.mmap`, freed by `releaseShared()` or else by the garbage
 * collector: see shm-lifecycle.ts). A name therefore only
 * exists in transit. Names whose creator died in transit are removed by the survivors
 * (`sweepStale`, and the worker on its way out), so nothing is left in /dev/shm when a worker or
 * the host is killed.
 *
 * Where it is unavailable, payloads are copied through the pipe as before: under Deno and Node
 * (no `Bun.mmap`), off Linux (no /dev/shm), or with SNAKEPIT_SHM=0.
 */

import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readFileSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import { SnakepitError } from "../errors.ts";
import { hostEnv, runtimeName } from "../runtime/process.ts";
import { canMmap, mmapFile, SHM_DIR as DIR } from "./shm-ffi.ts";
import { noteSent, type SentRef, trackMapping } from "./shm-lifecycle.ts";
import { takePooled } from "./shm-peer.ts";
import { lend, leaseRef, peerBudget, type PooledHandle, setPoolBudget } from "./shm-pool.ts";

/** A segment on the wire. */
export interface ShmHandle {
  name: string;
  size: number;
}

const NAME = /^snakepit-(\d+)-(?:w(\d+)-)?[0-9a-z]+$/;
const DEFAULT_MIN_BYTES = 1 << 20;
const DEFAULT_POOL_BYTES = 64 << 20;

/**
 * The default pool budget per process: 64 MiB, or an eighth of /dev/shm's size when that is less
 * (Docker's default /dev/shm is 64 MiB: the host and a few workers at 64 MiB each would claim
 * several times what is there). Every process of an instance pools at most this much, so a
 * small /dev/shm keeps room for one-shot segments; a full one never crashes anything: segments
 * are reserved up front (posix_fallocate), and what does not fit goes through the pipe.
 */
function defaultPoolBytes(): number {
  try {
    const fs = statfsSync(DIR);
    const total = fs.blocks * fs.bsize;
    return total > 0 ? Math.min(DEFAULT_POOL_BYTES, Math.floor(total / 8)) : DEFAULT_POOL_BYTES;
  } catch {
    return DEFAULT_POOL_BYTES;
  }
}

let state: { enabled: boolean; available: boolean; minBytes: number; seq: number; lastSweep: number } | undefined;

function init() {
  if (state) return state;
  const env = hostEnv();
  const minBytes = Number(env.SNAKEPIT_SHM_MIN_BYTES ?? DEFAULT_MIN_BYTES);
  const enabled = runtimeName === "bun" && process.platform === "linux" && canMmap() && env.SNAKEPIT_SHM !== "0" && existsSync(DIR);
  state = { enabled, available: enabled, minBytes: Number.isFinite(minBytes) && minBytes > 0 ? minBytes : DEFAULT_MIN_BYTES, seq: 0, lastSweep: 0 };
  const fallback = enabled ? defaultPoolBytes() : DEFAULT_POOL_BYTES;
  const poolBytes = Number(env.SNAKEPIT_SHM_POOL_BYTES ?? fallback);
  setPoolBudget(Number.isFinite(poolBytes) && poolBytes >= 0 ? poolBytes : fallback);
  if (enabled) sweepStale();
  return state;
}

/** Turn shared memory off (or back on where available) for pools started from now on: benches compare both. */
export function useShm(on: boolean): void {
  const s = init();
  s.enabled = on && s.available;
}

/** True when this host sends and accepts shared-memory payloads. */
export function shmEnabled(): boolean {
  return init().enabled;
}

/** The environment telling a worker whether (and from which size) to send results this way. */
export function shmWorkerEnv(): Record<string, string> {
  const s = init();
  if (!s.enabled) return { SNAKEPIT_SHM: "0" };
  return { SNAKEPIT_SHM: "1", SNAKEPIT_SHM_MIN_BYTES: String(s.minBytes), SNAKEPIT_SHM_HOST_PID: String(process.pid), SNAKEPIT_SHM_POOL_BYTES: String(peerBudget()) };
}

/** What `toShared` made: the handle for the packet and the record in-transit bookkeeping keeps. */
export interface Shared {
  handle: ShmHandle | PooledHandle;
  token: SentRef;
}

let lastWriteError: string | undefined;

/**
 * A handle for `bytes` when they are big enough to go through shared memory (pooled when it can,
 * else one-shot), else undefined: the payload goes through the pipe (also when /dev/shm is full).
 */
export function toShared(bytes: Uint8Array): Shared | undefined {
  const s = init();
  if (!s.enabled || bytes.byteLength < s.minBytes) return undefined;
  const pooled = lend(bytes);
  if (pooled) return { handle: pooled, token: leaseRef(pooled) };
  try {
    const handle = writeSegment(bytes);
    return { handle, token: handle.name };
  } catch (err) {
    lastWriteError = (err as Error).message; // ENOSPC, EMFILE...: this payload is copied through the pipe
    return undefined;
  }
}

/** Why the last one-shot segment could not be written (undefined: none failed). */
export function shmWriteError(): string | undefined {
  return lastWriteError;
}

/** A one-shot segment: a fresh named file the receiver unlinks when it maps it. */
export function writeSegment(bytes: Uint8Array): ShmHandle {
  const s = init();
  if (Date.now() - s.lastSweep > 5_000) sweepStale();
  const name = `snakepit-${process.pid}-${(s.seq++).toString(36)}${Math.floor(Math.random() * 2 ** 32).toString(36)}`;
  const path = `${DIR}/${name}`;
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    // write(2) fills tmpfs pages in the kernel: far cheaper than faulting in a fresh mapping.
    for (let at = 0; at < bytes.byteLength;) at += writeSync(fd, bytes, at, bytes.byteLength - at, at);
  } catch (err) {
    unlinkSync(path);
    throw err;
  } finally {
    closeSync(fd);
  }
  noteSent(name, bytes.byteLength);
  return { name, size: bytes.byteLength };
}

/** Map a segment worker `peerPid` sent (no copy) and unlink its name. */
export function fromShared(handle: unknown, peerPid?: number): Uint8Array {
  if (typeof handle === "object" && handle !== null && "fd" in handle) {
    if (!init().enabled) throw new SnakepitError("internal", "A worker sent a pooled shared-memory segment, but this host cannot map it");
    return takePooled(handle, peerPid);
  }
  const h = handle as Partial<ShmHandle> | null;
  if (!h || typeof h.name !== "string" || !NAME.test(h.name) || !Number.isInteger(h.size) || h.size! < 0) {
    throw new SnakepitError("internal", `Malformed shared-memory handle ${JSON.stringify(handle)}`);
  }
  if (!init().enabled) throw new SnakepitError("internal", `A worker sent shared-memory segment ${h.name}, but this host cannot map it`);
  const path = `${DIR}/${h.name}`;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (cause) {
    throw new SnakepitError("internal", `Shared-memory segment ${h.name} is gone: ${(cause as Error).message}`, { cause });
  }
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    if ((uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0 || st.size !== h.size) {
      throw new SnakepitError("internal", `Refusing shared-memory segment ${h.name}: owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)}, size ${st.size} (expected ours, 600, ${h.size})`);
    }
    return h.size === 0 ? new Uint8Array(0) : trackMapping(mmapFile(`/proc/self/fd/${fd}`), { name: h.name, size: h.size, released: false });
  } finally {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      // Already unlinked.
    }
  }
}

/** True while `pid` runs (a zombie, dead but not yet reaped, counts as dead). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Remove segments whose creator (a host, or a worker of this host) is dead. Returns how many. */
export function sweepStale(): number {
  if (state) state.lastSweep = Date.now();
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(DIR);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m) continue;
    const creator = Number(m[2] ?? m[1]);
    if (alive(creator) && (m[2] === undefined || alive(Number(m[1])))) continue;
    try {
      unlinkSync(`${DIR}/${name}`);
      removed++;
    } catch {
      // Someone else removed it.
    }
  }
  return removed;
}

// The segment pool: big arguments and results travel through nameless segments that stay mapped
// on both sides and are reused (no fresh pages per call), Python still sees the host's bytes
// without a copy, leases go back when released or collected, results the caller keeps are copied
// out past a quarter of the pool, a worker that dies holding a lease loses it, and forged pooled
// handles are refused.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { fromShared, shmEnabled, toShared } from "../../src/bridge/shm.ts";
import { leaseRef, lend, poolBudget, poolStats, setPoolBudget, settleLease } from "../../src/bridge/shm-pool.ts";
import { releaseShared, Snakepit } from "../../src/mod.ts";
import { fixture, isAlive, PYTHON, waitUntil } from "../helpers.ts";

const MiB = 1 << 20;
const hasNumpy = Bun.spawnSync([PYTHON, "-c", "import numpy"]).exitCode === 0;
const canPool = shmEnabled() && poolBudget() > 0;
if (!canPool) console.log("segment pool tests skipped: needs Linux with /dev/shm under Bun and SNAKEPIT_SHM_POOL_BYTES > 0");
const named = () => readdirSync("/dev/shm").filter((n) => n.startsWith("snakepit-")).length;
/** Nameless segments this process maps (its own pool's and workers'). */
const poolMaps = () => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => / rw-s .*\/dev\/shm\/#\d+ \(deleted\)$/.test(l)).length;

describe.skipIf(!canPool)("the shared-memory segment pool", () => {
  test("a big argument is a view of the host's pooled segment (no copy), the same segment call after call, nothing in /dev/shm", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const before = { named: named(), pool: pit.stats().shm.pool.segments };
    const inodes = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const x = hasNumpy ? new Float32Array(MiB).fill(i + 0.5) : new Uint8Array(2 * MiB).fill(i);
      const r = (await pit.execute("where", { x })) as Record<string, unknown>;
      expect(r).toMatchObject({ over_mmap: true, pooled: true, first: hasNumpy ? i + 0.5 : i });
      if (hasNumpy) expect(r).toMatchObject({ type: "ndarray", same_address: true, shares_memory: true, from_dlpack_same: true });
      inodes.add(r.inode as number);
    }
    // Reused: no fresh segment per call. Two may alternate: the worker answers a call just before
    // it drops the call's arguments, so the next call can find the last one still held.
    expect(inodes.size).toBeLessThanOrEqual(2);
    expect(pit.stats().shm.pool.segments).toBeLessThanOrEqual(before.pool + 2);
    expect(await waitUntil(() => pit.stats().shm.pool.lent === 0, 5_000)).toBe(true); // each lease comes back once its call let go
    expect(named()).toBe(before.named);
  });

  test("results are views over the worker's segment; release hands it back and the next result reuses it", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const maps = poolMaps();
    const first = (await pit.execute("make", { n: 3 * MiB, fill: 9 })) as Uint8Array;
    expect(first[0]).toBe(9);
    expect(first[3 * MiB - 1]).toBe(9);
    expect(poolMaps()).toBe(maps + 1);
    const view = first.subarray(MiB);
    expect(releaseShared(first)).toBe(3 * MiB);
    expect(first.length).toBe(0);
    expect(view.length).toBe(0);
    expect(view[0]).toBeUndefined(); // detached, never a read of memory the worker now reuses
    for (let i = 0; i < 3; i++) {
      using out = (await pit.execute("make", { n: 3 * MiB, fill: i })) as Uint8Array & Disposable;
      expect(out[3 * MiB - 1]).toBe(i);
    }
    expect(poolMaps()).toBe(maps + 1); // the same segment, over and over
    expect(pit.stats().shm.mapped).toBe(0);
  });

  test("a result moved away (transfer(), ArrayBuffer.prototype.transfer, a structuredClone transfer list) keeps its bytes: the segment goes back only when the moved memory is freed", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const collected = pit.stats().shm.collected;
    const moved: Uint8Array[] = [];
    await (async () => { // the original buffers die with this scope: only the moved memory stays
      const a = (await pit.execute("make", { n: 3 * MiB, fill: 1 })) as Uint8Array;
      moved.push(new Uint8Array((a.buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer()));
      expect(a.length).toBe(0);
      const b = (await pit.execute("make", { n: 3 * MiB, fill: 2 })) as Uint8Array;
      moved.push(new Uint8Array((ArrayBuffer.prototype as unknown as { transfer(): ArrayBuffer }).transfer.call(b.buffer)));
      const c = (await pit.execute("make", { n: 3 * MiB, fill: 3 })) as Uint8Array;
      moved.push(new Uint8Array(structuredClone(c.buffer as ArrayBuffer, { transfer: [c.buffer as ArrayBuffer] })));
    })();
    for (let i = 0; i < 5; i++) {
      Bun.gc(true);
      await Bun.sleep(10);
    }
    for (let i = 0; i < 4; i++) releaseShared(await pit.execute("make", { n: 3 * MiB, fill: 50 + i })); // the worker writes results again
    moved.forEach((m, i) => expect([m.length, m[0], m[3 * MiB - 1]]).toEqual([3 * MiB, i + 1, i + 1]));
    expect(pit.stats().shm.mapped).toBe(3); // still lent out: the moved buffers use them
    moved.length = 0;
    expect(await waitUntil(() => {
      Bun.gc(true);
      return pit.stats().shm.mapped === 0 && pit.stats().shm.collected >= collected + 3;
    }, 10_000, 50)).toBe(true);
  });

  test("a worker's segments are unmapped as soon as its channel closes (not by a timer: its pid may be reused)", async () => {
    const maps = poolMaps();
    const pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    releaseShared(await pit.execute("make", { n: 3 * MiB, fill: 1 }));
    expect(poolMaps()).toBe(maps + 1); // the worker's segment stays mapped here for its next result
    expect(pit.stats().shm.peers.segments).toBe(1);
    await pit.close();
    expect(poolMaps()).toBe(maps);
  });

  test("without release, the garbage collector hands the segment back", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const collected = pit.stats().shm.collected;
    await (async () => {
      const out = (await pit.execute("make", { n: 2 * MiB })) as Uint8Array;
      expect(out.length).toBe(2 * MiB);
    })();
    expect(await waitUntil(() => {
      Bun.gc(true);
      return pit.stats().shm.collected > collected && pit.stats().shm.mapped === 0;
    }, 10_000, 50)).toBe(true);
  });

  test("results the caller keeps: past a quarter of the worker's pool they are copied out, intact, and its pool stays bounded", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const copied = pit.stats().shm.peers.copiedOut;
    const kept: Uint8Array[] = [];
    const n = Math.floor(poolBudget() / 4 / (3 * MiB)) + 3;
    for (let i = 0; i < n; i++) kept.push((await pit.execute("make", { n: 3 * MiB, fill: i })) as Uint8Array);
    kept.forEach((b, i) => expect(b[0] === i && b[3 * MiB - 1] === i).toBe(true));
    expect(pit.stats().shm.peers.copiedOut - copied).toBeGreaterThanOrEqual(3);
    expect(pit.stats().shm.peers.bytes).toBeLessThanOrEqual(poolBudget());
    expect(releaseShared(kept)).toBeLessThanOrEqual(poolBudget() / 4); // only the zero-copy ones were shared
  });

  test("a tool that keeps its argument keeps the lease; a worker killed holding it loses it", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const before = pit.stats().shm.pool;
    expect(await pit.execute("keep", { x: new Uint8Array(2 * MiB).fill(4) })).toBe(1);
    expect(pit.stats().shm.pool.lent).toBe(before.lent + 1); // held by the tool after its call
    expect(await pit.execute("where", { x: new Uint8Array(2 * MiB).fill(5) })).toMatchObject({ pooled: true, first: 5 });
    const pid = pit.listWorkers()[0]!.pid;
    process.kill(pid, "SIGKILL");
    expect(await waitUntil(() => !isAlive(pid), 10_000)).toBe(true);
    expect(await waitUntil(() => pit.stats().shm.pool.lent === before.lent, 10_000)).toBe(true);
  }, 30_000);

  test("a segment that cannot be made (EMFILE) fails that payload only: pooling stays on", () => {
    const { dlopen, ptr } = require("bun:ffi") as typeof import("bun:ffi");
    const { symbols } = dlopen("libc.so.6", { getrlimit: { args: ["i32", "ptr"], returns: "i32" }, setrlimit: { args: ["i32", "ptr"], returns: "i32" } });
    const RLIMIT_NOFILE = 7;
    const saved = new BigUint64Array(2);
    expect(symbols.getrlimit(RLIMIT_NOFILE, ptr(saved))).toBe(0);
    const budget = poolBudget();
    setPoolBudget(0); // retires every free segment (other tests in this process leave some)
    setPoolBudget(budget);
    const big = new Uint8Array(budget / 2).fill(3);
    expect(poolStats().bytes + budget / 2 + 4 * MiB).toBeLessThanOrEqual(budget); // room for it: only EMFILE can refuse it
    let lent: ReturnType<typeof lend>;
    try {
      expect(symbols.setrlimit(RLIMIT_NOFILE, ptr(new BigUint64Array([0n, saved[1]!])))).toBe(0); // no new fd (synchronous: nothing else runs meanwhile)
      lent = lend(big); // a size no segment has (half the budget): it must make one
    } finally {
      symbols.setrlimit(RLIMIT_NOFILE, ptr(saved));
    }
    expect(lent, JSON.stringify({ lent, stats: poolStats() })).toBeUndefined();
    expect(poolBudget()).toBe(budget); // was 0 from then on: every payload one-shot for the life of the process
    const h = lend(big)!;
    expect(h.size).toBe(budget / 2);
    expect(settleLease(leaseRef(h))).toBe(true);
  });

  test("forged or stale pooled handles are refused with a clear error", () => {
    const shared = toShared(new Uint8Array(2 * MiB).fill(6))!;
    const h = shared.handle as { pid: number; fd: number; id: string; lease: number; off: number; size: number };
    expect(h.fd).toBeGreaterThanOrEqual(0);
    const me = process.pid; // this process plays the worker whose channel it is
    expect(() => fromShared({ ...h, id: "nothex" }, me)).toThrow(/malformed/);
    expect(() => fromShared({ ...h, off: 0 }, me)).toThrow(/malformed/);
    expect(() => fromShared({ ...h, fd: 0 }, me)).toThrow(/not a private nameless|cannot be opened/); // stdin is no segment
    expect(() => fromShared(h, process.ppid)).toThrow(/not this channel's worker/); // another process's segments are never opened
    expect(() => fromShared(h)).toThrow(/not this channel's worker/);
    expect(() => fromShared({ ...h, pid: 2 ** 22 + 7 }, 2 ** 22 + 7)).toThrow(/cannot be opened/);
    expect(() => fromShared({ ...h, id: "0123456789abcdef" }, me)).toThrow(/gone/);
    expect(() => fromShared({ ...h, size: h.size * 4 }, me)).toThrow(/past the segment's end/);
    expect(() => fromShared({ ...h, lease: h.lease + 1 }, me)).toThrow(/lease is over/);
    const view = fromShared(h, me); // taken once, as a worker would
    expect(view[2 * MiB - 1]).toBe(6);
    expect(() => fromShared(h, me)).toThrow(/lease is over/); // not twice
    expect(releaseShared(view)).toBe(2 * MiB);
  });
});

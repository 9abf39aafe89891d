// Lifecycle of shared-memory results the caller keeps: release() / `using` free the mapping at
// once (views read as empty, ArrowIPC throws), the garbage collector is the fallback, stats()
// counts what is live, and segments sent to a worker that dies before reading them are removed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tableToIPC } from "apache-arrow";
import { createApp } from "../../src/api/app.ts";
import { shmEnabled } from "../../src/bridge/shm.ts";
import { poolBudget, setPoolBudget } from "../../src/bridge/shm-pool.ts";
import { ArrowIPC, arrowIPC, isNDArray, releaseShared, Snakepit, SnakepitError } from "../../src/mod.ts";
import { sampleTable } from "../fixtures/arrow-sample.ts";
import { fixture, isAlive, PYTHON, waitUntil } from "../helpers.ts";

const MiB = 1 << 20;
const hasNumpy = Bun.spawnSync([PYTHON, "-c", "import numpy"]).exitCode === 0;
if (!shmEnabled()) console.log("shared-memory release tests skipped: needs Linux with /dev/shm under Bun (elsewhere results are ordinary copies the GC frees)");

/** Mappings of worker-sent segments in this process (they stay mapped after the unlink). */
const mappedSegments = () => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => /\/dev\/shm\/snakepit-\d+-w\d+-/.test(l)).length;

// One-shot segments (the pool off, as for payloads over half its budget); test/integration/shm-pool.test.ts covers the pool.
describe.skipIf(!shmEnabled())("releasing shared-memory results", () => {
  const budget = poolBudget();
  beforeAll(() => setPoolBudget(0));
  afterAll(() => setPoolBudget(budget));

  test("releaseShared() unmaps at once: views read as empty, stats() shows it", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const before = { maps: mappedSegments(), stats: pit.stats().shm };
    const out = (await pit.execute("make", { n: 3 * MiB, fill: 9 })) as Uint8Array;
    expect(out[3 * MiB - 1]).toBe(9);
    expect(mappedSegments()).toBe(before.maps + 1);
    expect(pit.stats().shm).toMatchObject({ mapped: before.stats.mapped + 1, mappedBytes: before.stats.mappedBytes + 3 * MiB });
    const metrics = await (await createApp({ pit }).request("/metrics")).text();
    expect(metrics).toContain(`snakepit_shm_mapped_bytes ${before.stats.mappedBytes + 3 * MiB}`);
    const view = out.subarray(MiB);
    expect(releaseShared({ results: [out] })).toBe(3 * MiB);
    expect(mappedSegments()).toBe(before.maps);
    expect(out.length).toBe(0);
    expect(view.length).toBe(0);
    expect(out[0]).toBeUndefined(); // detached, never a dangling read
    expect(releaseShared(out)).toBe(0); // twice is harmless
    expect(pit.stats().shm).toMatchObject({ mapped: before.stats.mapped, released: before.stats.released + 1 });
    expect(releaseShared(new Uint8Array(4))).toBe(0); // not shared memory: untouched
  });

  test("a released result passed as an argument is refused with a typed error, not sent as empty bytes", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const out = (await pit.execute("make", { n: 2 * MiB, fill: 1 })) as Uint8Array;
    releaseShared(out);
    const err = (await pit.execute("where", { x: out }).catch((e) => e)) as SnakepitError;
    expect(err).toBeInstanceOf(SnakepitError);
    expect(err.code).toBe("invalid_argument");
    expect(err.message).toContain("released");
    expect(await pit.execute("make", { n: 4, fill: 2 })).toEqual(new Uint8Array([2, 2, 2, 2])); // the worker keeps serving
  });

  test("`using` frees a result at the end of its block; NDArrays release too", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const maps = mappedSegments();
    {
      using out = (await pit.execute("make", { n: 2 * MiB })) as Uint8Array & Disposable;
      expect(out.length).toBe(2 * MiB);
      expect(mappedSegments()).toBe(maps + 1);
    }
    expect(mappedSegments()).toBe(maps);
    if (hasNumpy) {
      const arr = await pit.execute("make_f32", { n: MiB });
      expect(isNDArray(arr) && arr.data.length === MiB).toBe(true);
      expect(releaseShared(arr)).toBe(4 * MiB);
      expect(isNDArray(arr) && arr.data.length).toBe(0);
    }
    const small = (await pit.execute("make", { n: 10 })) as Uint8Array; // through the pipe: a plain copy
    expect(releaseShared(small)).toBe(0);
    expect(small.length).toBe(10);
  });

  test("an ArrowIPC result throws a typed error once released", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("arrow_tools.py"), poolSize: 1, python: PYTHON });
    const maps = mappedSegments();
    const back = (await pit.execute("echo", { t: arrowIPC(tableToIPC(sampleTable(60_000))) })) as ArrowIPC;
    expect(back.shared).toBe(true);
    expect(mappedSegments()).toBe(maps + 1);
    {
      using held = back;
      expect(held.byteLength).toBeGreaterThan(MiB);
    }
    expect(mappedSegments()).toBe(maps);
    const err = (() => {
      try {
        return back.toTable();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SnakepitError);
    expect((err as SnakepitError).code).toBe("invalid_argument");
    expect((err as Error).message).toMatch(/was released/);
  });

  test("without release, the garbage collector frees a dropped result", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const maps = mappedSegments();
    const collected = pit.stats().shm.collected;
    await (async () => {
      const out = (await pit.execute("make", { n: 2 * MiB })) as Uint8Array;
      expect(out.length).toBe(2 * MiB);
    })();
    const freed = await waitUntil(() => {
      Bun.gc(true);
      return mappedSegments() === maps && pit.stats().shm.collected > collected;
    }, 10_000, 50);
    expect(freed).toBe(true);
  });

  test("a request the worker cannot decode: its segment is removed when the call ends", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const ours = () => readdirSync("/dev/shm").filter((n) => n.startsWith(`snakepit-${process.pid}-`) && !n.includes("-w"));
    const before = ours().length;
    let deep: unknown = 1;
    for (let i = 0; i < 300; i++) deep = [deep]; // past the worker's nesting limit: refused before the payload is opened
    const err = (await pit.execute("where", { x: new Uint8Array(2 * MiB), deep }).catch((e: unknown) => e)) as SnakepitError;
    expect(err).toBeInstanceOf(SnakepitError);
    expect(err.message).toMatch(/nest/);
    expect(ours().length).toBe(before);
    expect(pit.stats().shm.inTransit).toBe(0);
    expect(await pit.execute("where", { x: new Uint8Array(2 * MiB).fill(1) })).toMatchObject({ over_mmap: true, first: 1 });
  });

  test("a worker killed before it read a segment the host sent: the segment is removed", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const pid = pit.listWorkers()[0]!.pid;
    const ours = () => readdirSync("/dev/shm").filter((n) => n.startsWith(`snakepit-${process.pid}-`) && !n.includes("-w"));
    const before = new Set(ours());
    process.kill(pid, "SIGSTOP"); // it cannot read the request
    const call = pit.execute("where", { x: new Uint8Array(2 * MiB) }).catch((e: unknown) => e);
    expect(await waitUntil(() => ours().length > before.size, 5_000)).toBe(true);
    const name = ours().find((n) => !before.has(n))!;
    expect(pit.stats().shm).toMatchObject({ inTransit: 1, inTransitBytes: 2 * MiB });
    process.kill(pid, "SIGKILL");
    expect(await waitUntil(() => !isAlive(pid), 10_000)).toBe(true);
    expect((await call) as SnakepitError).toBeInstanceOf(SnakepitError);
    expect(await waitUntil(() => !existsSync(`/dev/shm/${name}`), 5_000)).toBe(true);
    expect(pit.stats().shm.inTransit).toBe(0);
  }, 30_000);
});

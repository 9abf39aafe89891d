// Big payloads through shared memory: Python sees the host's bytes without a copy (the array's
// buffer is the shared mapping), results come back the same way, and no segment outlives a
// killed host or worker.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { fromShared, shmEnabled, writeSegment } from "../../src/bridge/shm.ts";
import { isNDArray, Snakepit } from "../../src/mod.ts";
import { fixture, isAlive, PYTHON, ROOT, waitUntil } from "../helpers.ts";

const hasNumpy = Bun.spawnSync([PYTHON, "-c", "import numpy"]).exitCode === 0;
const canShm = shmEnabled();
if (!canShm) console.log("shared-memory tests skipped: needs Linux with /dev/shm under Bun (elsewhere payloads are copied through the pipe)");
if (!hasNumpy) console.log(`shared-memory numpy tests skipped: ${PYTHON} cannot import numpy`);
const MiB = 1 << 20;
const segments = (prefix = "snakepit-") => readdirSync("/dev/shm").filter((n) => n.startsWith(prefix));

describe.skipIf(!canShm)("shared memory for big payloads", () => {
  test("a float32 array above the threshold is a numpy array over the shared mapping (no copy), DLPack-ready", async () => {
    if (!hasNumpy) return;
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const x = new Float32Array(MiB).map((_, i) => i + 0.5);
    const r = (await pit.execute("where", { x })) as Record<string, unknown>;
    expect(r).toMatchObject({ type: "ndarray", over_mmap: true, same_address: true, shares_memory: true, from_dlpack_same: true, first: 0.5 });
    // The mapping is a pooled segment: a nameless private tmpfs file, nothing in /dev/shm.
    expect(String(r.mapping)).toMatch(/ rw-s .*\/dev\/shm\/#\d+ \(deleted\)$/);
    expect(r.pooled).toBe(true);
    if (r.torch_same !== null) expect(r.torch_same).toBe(true);
    else console.log("torch.from_dlpack check skipped: torch is not importable");
  }, 60_000);

  test("bytes above the threshold arrive as a memoryview over the mapping; small ones through the pipe", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const big = new Uint8Array(2 * MiB).fill(3);
    expect(await pit.execute("where", { x: big })).toMatchObject({ type: "memoryview", over_mmap: true, pooled: true, first: 3 });
    expect(await pit.execute("where", { x: new Uint8Array(1024).fill(3) })).toEqual({ type: "bytes", over_mmap: false });
  });

  test("big results come back through shared memory, intact, and leave no segment behind", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const before = segments().length;
    const out = (await pit.execute("make", { n: 3 * MiB, fill: 9 })) as Uint8Array;
    expect(out.length).toBe(3 * MiB);
    expect(out[0]).toBe(9);
    expect(out[3 * MiB - 1]).toBe(9);
    if (hasNumpy) {
      const arr = await pit.execute("make_f32", { n: MiB });
      expect(isNDArray(arr) && arr.dtype === "float32" && arr.data.length === MiB && arr.data[MiB - 1] === MiB - 1).toBe(true);
    }
    // An argument the tool keeps stays readable after the call (released when dropped).
    expect(await pit.execute("keep", { x: new Uint8Array(2 * MiB) })).toBe(1);
    expect(segments().length).toBe(before);
  });

  test("segments are private (mode 0600) and a handle naming anything else is refused", () => {
    const h = writeSegment(new Uint8Array(2 * MiB));
    const mode = Bun.spawnSync(["stat", "-c", "%a", `/dev/shm/${h.name}`]).stdout.toString().trim();
    expect(mode).toBe("600");
    expect(() => fromShared({ name: "../etc/passwd", size: 1 })).toThrow(/Malformed shared-memory handle/);
    expect(() => fromShared({ name: "snakepit-1-zzzz", size: 1 })).toThrow(/is gone/);
    expect(fromShared(h).length).toBe(2 * MiB);
    expect(existsSync(`/dev/shm/${h.name}`)).toBe(false);
  });

  test("kill -9 the host: its workers exit and no segment of it is left in /dev/shm", async () => {
    const host = Bun.spawn([process.execPath, `${ROOT}test/fixtures/shm-host.ts`, fixture("shm_tools.py"), PYTHON], { stdout: "pipe", stderr: "inherit" });
    const reader = host.stdout.getReader();
    let line = "";
    while (!line.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      line += new TextDecoder().decode(value);
    }
    const info = JSON.parse(line) as { hostPid: number; workerPids: number[]; names: string[] };
    for (const name of info.names) expect(existsSync(`/dev/shm/${name}`)).toBe(true);
    process.kill(info.hostPid, "SIGKILL");
    await host.exited;
    expect(await waitUntil(() => info.workerPids.every((p) => !isAlive(p)), 10_000)).toBe(true);
    expect(await waitUntil(() => segments(`snakepit-${info.hostPid}-`).length === 0, 5_000)).toBe(true);
  }, 30_000);

  test("kill -9 a worker holding an unsent segment: the host sweeps it when the worker's channel closes", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("shm_tools.py"), poolSize: 1, python: PYTHON });
    const name = (await pit.execute("stray", { n: 2 * MiB })) as string;
    const pid = pit.listWorkers()[0]!.pid;
    expect(existsSync(`/dev/shm/${name}`)).toBe(true);
    process.kill(pid, "SIGKILL");
    expect(await waitUntil(() => !isAlive(pid), 10_000)).toBe(true);
    // The host sweeps when the worker's channel closes: no sweepStale() call needed.
    expect(await waitUntil(() => !existsSync(`/dev/shm/${name}`), 5_000)).toBe(true);
  }, 30_000);
});

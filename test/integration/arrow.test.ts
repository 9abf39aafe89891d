// Arrow IPC through a real worker: tables travel with their schema (shared memory above the
// threshold, the pipe below), Python reads the same schema without pyarrow and sees the mapping
// itself, results come back as ArrowIPC, and bad IPC is a typed error with the worker still up.
import { describe, expect, test } from "bun:test";
import { tableToIPC, type Table } from "apache-arrow";
import { ArrowIPC, arrowIPC, Snakepit, SnakepitError } from "../../src/mod.ts";
import { shmEnabled } from "../../src/bridge/shm.ts";
import { fixture, PYTHON } from "../helpers.ts";
import { SAMPLE_FIELDS, sampleTable } from "../fixtures/arrow-sample.ts";

const hasPyarrow = Bun.spawnSync([PYTHON, "-c", "import pyarrow"]).exitCode === 0;
if (!hasPyarrow) console.log(`pyarrow tests skipped: ${PYTHON} cannot import pyarrow (Debian 12 has no python3-pyarrow); the stdlib ArrowIPC path is tested instead`);
if (!shmEnabled()) console.log("Arrow shared-memory checks skipped: needs Linux with /dev/shm under Bun");
const MiB = 1 << 20;

/** A table whose IPC is about `mib` MiB (float64 columns). */
function bigTable(mib: number): Table {
  return sampleTable(Math.ceil((mib * MiB) / 60));
}

describe("Arrow IPC through a worker", () => {
  test("small tables go through the pipe; Python reads the same schema the host sent", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("arrow_tools.py"), poolSize: 1, python: PYTHON });
    const table = sampleTable(10);
    for (const arg of [table, arrowIPC(tableToIPC(table, "file"))]) {
      const r = (await pit.execute("describe", { t: arg })) as Record<string, unknown>;
      if (hasPyarrow) {
        expect(r).toMatchObject({ type: "Table", rows: 10 });
        continue;
      }
      expect(r).toMatchObject({ type: "ArrowIPC", over_mmap: false, rows: 10, columns: SAMPLE_FIELDS.map((f) => f.name) });
      const host = arg instanceof ArrowIPC ? arg.schema : arrowIPC(tableToIPC(table)).schema;
      expect(r.schema).toEqual(host as unknown as Record<string, unknown>);
    }
  });

  test("a big table travels through shared memory, Python sees the mapping, and it comes back as ArrowIPC", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("arrow_tools.py"), poolSize: 1, python: PYTHON });
    const table = bigTable(4);
    const ipc = arrowIPC(tableToIPC(table));
    expect(ipc.byteLength).toBeGreaterThan(2 * MiB);
    const r = (await pit.execute("describe", { t: ipc })) as Record<string, unknown>;
    if (hasPyarrow) {
      // pyarrow reads the columns in place: their buffers are inside the shared mapping.
      expect(r).toMatchObject({ type: "Table", rows: table.numRows, over_mmap: shmEnabled() });
    } else {
      expect(r).toMatchObject({ type: "ArrowIPC", rows: table.numRows, nbytes: ipc.byteLength, over_mmap: shmEnabled() });
      if (shmEnabled()) expect(r.same_address).toBe(true);
    }
    const back = (await pit.execute("echo", { t: table })) as ArrowIPC;
    expect(back).toBeInstanceOf(ArrowIPC);
    expect(back.shared).toBe(shmEnabled());
    expect(back.schema.fields.map((f) => f.name)).toEqual(SAMPLE_FIELDS.map((f) => f.name));
    expect(back.numRows).toBe(table.numRows);
    const t = back.toTable<Table>();
    expect(t.numRows).toBe(table.numRows);
    expect(t.getChild("s")!.get(7)).toBe("row 7");
    expect(t.getChild("f64")!.get(table.numRows - 1)).toBe(table.getChild("f64")!.get(table.numRows - 1));
    // Released: the bytes throw, the table's columns read as empty, the segment is gone.
    const before = pit.stats().shm;
    expect(back.release()).toBe(shmEnabled() ? back.byteLength : 0);
    expect(() => back.bytes).toThrow(/was released/);
    if (shmEnabled()) {
      // The Table made before reads the detached memory as empty: no value, and no crash.
      expect(t.getChild("f64")!.data[0]!.values.length).toBe(0);
      expect(t.getChild("f64")!.get(1)).toBeUndefined();
    }
    if (shmEnabled()) {
      expect(pit.stats().shm.mapped).toBe(before.mapped - 1);
      expect(pit.stats().shm.mappedBytes).toBe(before.mappedBytes - back.byteLength);
    }
  }, 60_000);

  test("bad IPC: invalid_argument naming the problem, from either side, and the worker answers on", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("arrow_tools.py"), poolSize: 1, python: PYTHON });
    const pid = pit.listWorkers()[0]!.pid;
    const good = tableToIPC(sampleTable(3));
    const cases: Array<[Uint8Array, RegExp]> = [
      [new TextEncoder().encode("definitely not an arrow stream"), /wrong magic/],
      [good.subarray(0, 30), /schema message length \d+ does not fit/],
      [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0x7f, 0, 0]), /does not fit/],
    ];
    for (const [bytes, message] of cases) {
      const err = await pit.execute("wrap", { data: bytes }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SnakepitError);
      expect((err as SnakepitError).code).toBe("invalid_argument");
      expect((err as Error).message).toMatch(message);
      expect(() => arrowIPC(bytes)).toThrow(message); // the host refuses the same bytes itself
    }
    const ok = (await pit.execute("wrap", { data: good })) as ArrowIPC;
    expect(ok.schema.fields).toHaveLength(SAMPLE_FIELDS.length);
    expect(pit.listWorkers()[0]!.pid).toBe(pid);
  });
});

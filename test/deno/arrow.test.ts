// Arrow IPC under Deno: no shared memory (no mmap API), so tables are copied through the pipe;
// apache-arrow is loaded with `await loadArrow()` (Deno cannot load it synchronously).
import { type Table, tableToIPC } from "apache-arrow";
import { ArrowIPC, arrowIPC, loadArrow, releaseShared, Snakepit, SnakepitError } from "../../src/mod.ts";
import { sampleTable } from "../fixtures/arrow-sample.ts";

const python = Deno.env.get("SNAKEPIT_TEST_PYTHON") ?? "/usr/bin/python3";
const adapter = new URL("../fixtures/arrow_tools.py", import.meta.url).pathname;

function assert(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

Deno.test("Arrow tables under Deno: copied through the pipe, ArrowIPC back, release marks it released", async () => {
  const pit = await Snakepit.start({ adapter, poolSize: 1, python });
  try {
    const table = sampleTable(40_000); // > 1 MiB of IPC
    const before = await pit.execute("describe", { t: table }).catch((e: unknown) => e);
    assert(before instanceof SnakepitError && before.code === "invalid_argument" && /loadArrow/.test(before.message), `a Table before loadArrow(): ${String(before)}`);
    await loadArrow();
    const r = (await pit.execute("describe", { t: table })) as Record<string, unknown>;
    assert(r.over_mmap === false, `copied through the pipe, got ${JSON.stringify(r).slice(0, 200)}`);
    const back = (await pit.execute("echo", { t: arrowIPC(tableToIPC(table)) })) as ArrowIPC;
    assert(back instanceof ArrowIPC && !back.shared, "an ArrowIPC copy comes back");
    assert(back.toTable<Table>().numRows === table.numRows, "it reads as the same table");
    assert(releaseShared(back) === 0 && back.released, "release frees nothing shared but marks it released");
    const s = pit.stats().shm;
    assert(s.mapped === 0 && s.inTransit === 0, `no shared memory under Deno: ${JSON.stringify(s)}`);
  } finally {
    await pit.close();
  }
});

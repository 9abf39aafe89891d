// Runs under Deno: the module imports through deno.json's npm: map, spawns real Python workers.
import { Snakepit } from "../../src/mod.ts";

const python = Deno.env.get("SNAKEPIT_TEST_PYTHON") ?? "/usr/bin/python3";
const adapter = new URL("../../examples/adapters/demo.py:DemoAdapter", import.meta.url).pathname;

function assertEquals(actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

Deno.test("Snakepit under Deno starts a pool, executes, streams and closes", async () => {
  const pit = await Snakepit.start({ adapter, poolSize: 2, python });
  try {
    assertEquals(await pit.execute("add", { a: 1, b: 2 }), 3);
    const chunks: unknown[] = [];
    for await (const c of pit.stream("count", { n: 3 })) chunks.push(c);
    assertEquals(chunks, [{ i: 0 }, { i: 1 }, { i: 2 }]);
    const err = await pit.execute("add", { a: "x" }).catch((e: { code: string }) => e) as { code: string };
    assertEquals(err.code, "invalid_argument");
    assertEquals(pit.listWorkers().length, 2);
  } finally {
    await pit.close();
  }
  assertEquals(pit.listWorkers().length, 0);
});

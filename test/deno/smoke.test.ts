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

Deno.test("the HTTP API serves under Deno (Deno.serve)", async () => {
  const { createApp } = await import("../../src/api/app.ts");
  const { serveHttp } = await import("../../src/runtime/process.ts");
  const pit = await Snakepit.start({ adapter, poolSize: 1, python });
  const server = serveHttp(createApp({ pit }).fetch, { hostname: "127.0.0.1", port: 0 });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/v1/execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tool: "greet", args: { name: "Deno" } }),
    });
    assertEquals(await res.json(), { result: "Hello, Deno!" });
    const bad = await fetch(`http://127.0.0.1:${server.port}/v1/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    assertEquals(bad.status, 400);
    await bad.body?.cancel();
  } finally {
    await server.stop(true);
    await pit.close();
  }
});

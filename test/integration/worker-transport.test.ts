import { expect, test } from "bun:test";
import { createClient } from "@connectrpc/connect";
import { BridgeService, createWorkerTransport, Snakepit } from "../../src/mod.ts";
import { DEMO, PYTHON } from "../helpers.ts";

test("createWorkerTransport() lets a Connect client call a worker with typed messages", async () => {
  await using pit = await Snakepit.start({ adapter: DEMO, poolSize: 1, python: PYTHON });
  const worker = pit.pools.get("default")!.workers[0]!;
  const client = createClient(BridgeService, createWorkerTransport(worker));
  const pong = await client.ping({ message: "hi" });
  expect(pong).toMatchObject({ message: "hi", pid: worker.pid, workerId: worker.id });
  const reply = await client.executeTool({ toolName: "add", args: { a: 2, b: 3 } });
  expect(reply.result?.kind).toEqual({ case: "numberValue", value: 5 });
  expect(reply.durationUs).toBeGreaterThan(0n);
  const chunks = [];
  for await (const c of client.executeStreamingTool({ toolName: "count", args: { n: 3 } })) chunks.push(c.seq);
  expect(chunks).toEqual([0, 1, 2]);
  const tools = await client.listTools({});
  expect(tools.tools.map((t) => t.name)).toContain("greet");
  const hb = await client.heartbeat({ seq: 7n });
  expect(hb.seq).toBe(7n);
  await expect(client.executeTool({ toolName: "add", args: { a: "x" } })).rejects.toMatchObject({ code: 3, rawMessage: "tool 'add': argument a must be a number, got str" });
  await expect(client.executeTool({ toolName: "sleep", args: { ms: 5_000 } }, { timeoutMs: 100 })).rejects.toMatchObject({ code: 4 });
});

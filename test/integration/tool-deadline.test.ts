/**
 * `@tool(timeout_ms=...)` (the seed's `command_timeout`): the tool reports its default deadline
 * in its spec, and the worker applies it to calls that arrive without one.
 */

import { expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { BridgeService, createWorkerTransport, Snakepit } from "../../src/mod.ts";
import { fixture, PYTHON } from "../helpers.ts";

test("a tool's own deadline is in its spec and ends a call that came without one", async () => {
  await using pit = await Snakepit.start({ adapter: fixture("tool_deadline.py"), poolSize: 1, python: PYTHON });
  const specs = new Map(pit.tools.list().map((t) => [t.name, t]));
  expect(specs.get("patient")?.timeoutMs).toBe(300);
  expect(specs.get("quick")?.timeoutMs).toBe(1500);

  // Straight to the worker, with no deadline on the request: the tool's own applies.
  const worker = pit.pools.get("default")!.workers[0]!;
  const client = createClient(BridgeService, createWorkerTransport(worker));
  const started = performance.now();
  const err = await client.executeTool({ toolName: "patient", args: { seconds: 10 } }).catch((e: unknown) => e);
  const elapsed = performance.now() - started;
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
  expect((err as ConnectError).rawMessage).toContain("default deadline of 300 ms");
  expect(elapsed).toBeGreaterThanOrEqual(290);
  expect(elapsed).toBeLessThan(5_000);
  // A deadline the caller gives wins over the tool's.
  const reply = await client.executeTool({ toolName: "patient", args: { seconds: 0.5 } }, { timeoutMs: 5_000 });
  expect(reply.result?.kind).toEqual({ case: "stringValue", value: "done" });
});

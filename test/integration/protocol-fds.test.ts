// A tool that closes the worker's protocol output: its answer can never reach the host. The worker
// must leave at once (the call fails fast with worker_crashed and a replacement serves the next
// call) rather than sit deaf until the call's deadline and three missed heartbeats.
import { describe, expect, test } from "bun:test";
import { Snakepit } from "../../src/mod.ts";
import { fixture, PYTHON } from "../helpers.ts";

const modes: [string, { preload?: { modules: string[] } }][] = [["spawned", {}], ...(process.platform === "linux" ? [["preloaded", { preload: { modules: ["json"] } }] as [string, { preload: { modules: string[] } }]] : [])];

describe("a tool closes the protocol output", () => {
  for (const [mode, extra] of modes) {
    test(`${mode}: the call fails fast as worker_crashed, the next call is served`, async () => {
      await using pit = await Snakepit.start({ adapter: fixture("closes_protocol.py"), poolSize: 1, python: PYTHON, ...extra });
      const before = await pit.execute<number>("pid");
      const t0 = performance.now();
      const err = await pit.execute("close_output", {}, { timeoutMs: 20_000 }).then(() => undefined, (e: { code: string }) => e.code);
      const ms = performance.now() - t0;
      expect({ err, fast: ms < 5_000 }).toEqual({ err: "worker_crashed", fast: true });
      const after = await pit.execute<number>("pid", {}, { timeoutMs: 20_000 });
      expect(after).not.toBe(before);
    }, 60_000);
  }
});

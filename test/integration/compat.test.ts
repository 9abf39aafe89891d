/**
 * Adapters written for the original Snakepit's Python API run unmodified under snakepit: the
 * fixture test/fixtures/original_style.py uses BaseAdapter, @tool with its keywords,
 * set_session_context, per-request initialize/cleanup, SessionContext.call_elixir_tool,
 * StreamChunk-style chunks, logging_config and the telemetry helpers; real workers run it.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON, waitUntil } from "../helpers.ts";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("an original-style adapter, unmodified", () => {
  let pit: Snakepit;
  const validated: unknown[] = [];
  beforeAll(async () => {
    pit = await Snakepit.start({ adapter: fixture("original_style.py"), poolSize: 2, python: PYTHON });
    pit.tools.register("validate", {
      description: "Validate data on the host",
      input: z.object({ input: z.record(z.string(), z.unknown()), options: z.object({ timeout: z.number() }) }),
      handler: ({ input }, ctx) => {
        validated.push({ input, session: ctx.sessionId });
        return { valid: Object.keys(input).length > 0 };
      },
    });
  });
  afterAll(() => pit.close());

  test("its tools are listed with the descriptions and streaming flags of @tool", () => {
    const tools = new Map(pit.tools.list().map((t) => [t.name, t]));
    expect(tools.get("add")).toMatchObject({ description: "Add two numbers together", streaming: false });
    expect(tools.get("stream_data")?.streaming).toBe(true);
    expect(tools.get("search")?.streaming).toBe(true);
  });

  test("plain, async and execute_tool-routed tools answer", async () => {
    expect(await pit.execute("add", { a: 2, b: 3.5 })).toBe(5.5);
    expect(await pit.execute("slow_double", { x: 21 })).toBe(42);
    expect(await pit.execute("legacy_shout", { text: "hi" }, { sessionId: "s-1" })).toEqual({ shout: "HI", session_id: "s-1" });
    await expect(pit.execute("add", { a: "x", b: 1 })).rejects.toMatchObject({ code: "invalid_argument" });
  });

  test("every call gets a new adapter instance, initialized and cleaned up even when it fails", async () => {
    const s = pit.session("lifecycle");
    type Lifecycle = { created: number; initialized: number; cleaned_up: number; pid: number; instance: number };
    const first = await s.execute<Lifecycle>("lifecycle");
    const err = await failure(s.execute("broken"));
    expect(err.python?.type).toBe("ValueError");
    const second = await s.execute<Lifecycle>("lifecycle");
    expect(second.pid).toBe(first.pid);
    expect(second.instance === first.instance && second.created === first.created).toBe(false);
    expect(second.created - first.created).toBe(2);
    expect(second.initialized - first.initialized).toBe(2);
    expect(second.cleaned_up - first.cleaned_up).toBe(2);
  });

  test("the session context carries the session id and metadata; the correlation id is the call's", async () => {
    const stops: string[] = [];
    const off = pit.on("call.stop", (e) => stops.push(e.correlationId));
    const info = await pit.execute<Record<string, unknown>>("get_session_info", {}, { sessionId: "user-7", metadata: { tenant: "acme" } });
    off();
    expect(info).toEqual({ session_id: "user-7", metadata: { tenant: "acme" }, correlation_id: stops[0]! });
  });

  test("call_elixir_tool calls a host tool with the session's id", async () => {
    const s = pit.session("backend");
    expect(await s.execute("call_backend_tool", { operation: "validate", data: { x: 1 } })).toEqual({ valid: true });
    expect(validated.at(-1)).toEqual({ input: { x: 1 }, session: "backend" });
    const missing = await failure(s.execute("call_backend_tool", { operation: "absent", data: {} }));
    expect(missing.code).toBe("python_exception");
    expect(missing.message).toContain("Tool 'absent' not found");
  });

  test("StreamChunk objects and {data, is_final} dicts stream their data; a returned dict is one chunk", async () => {
    expect(await collect(pit.stream("stream_data", { count: 3 }))).toEqual([
      { index: 1, total: 3 },
      { index: 2, total: 3 },
      { index: 3, total: 3 },
    ]);
    const progress = await collect(pit.stream<{ item: number }>("process_with_progress", { items: 4 }));
    expect(progress.map((p) => p.item)).toEqual([1, 2, 3, 4]);
    expect(await collect(pit.stream("search", { query: "cats" }))).toEqual([{ results: [], query: "cats", limit: 10 }]);
  });

  test("telemetry.span and emit reach the host with the call's correlation id", async () => {
    const got: Array<{ name: string; correlationId: string | undefined }> = [];
    const off = pit.on("python.event", (e) => got.push(e));
    const { correlation_id } = await pit.execute<{ correlation_id: string }>("timed_work", { n: 2 });
    expect(await waitUntil(() => got.some((e) => e.name === "python.compat.progress"), 5_000)).toBe(true);
    off();
    const names = got.filter((e) => e.correlationId === correlation_id).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(["python.compat.work.start", "python.compat.work.stop", "python.compat.progress"]));
  });
});

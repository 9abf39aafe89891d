import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { z } from "zod";
import { createApp } from "../../src/api/app.ts";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON, waitUntil } from "../helpers.ts";

const ADAPTER = fixture("telemetry_tools.py");

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    const inner = line.slice(name.length + 1, line.indexOf("}"));
    const have = inner.split(",");
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

describe("metrics", () => {
  test("/metrics counts the calls made, by tool and outcome", async () => {
    await using pit = await Snakepit.start({ adapter: ADAPTER, poolSize: 2, python: PYTHON });
    const app = createApp({ pit });
    for (let i = 0; i < 20; i++) await pit.execute("add", { a: i });
    for (let i = 0; i < 3; i++) await failure(pit.execute("add", { a: "x" }));
    for (let i = 0; i < 2; i++) await failure(pit.execute("fail"));
    await failure(pit.execute("no_such_tool_" + Math.random()));
    const res = await app.request("/metrics");
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(metricValue(text, "snakepit_calls_total", { pool: "default", tool: "add", outcome: "ok" })).toBe(20);
    expect(metricValue(text, "snakepit_calls_total", { pool: "default", tool: "add", outcome: "invalid_argument" })).toBe(3);
    expect(metricValue(text, "snakepit_calls_total", { pool: "default", tool: "fail", outcome: "python_exception" })).toBe(2);
    expect(metricValue(text, "snakepit_calls_total", { pool: "default", tool: "_unknown", outcome: "tool_not_found" })).toBe(1);
    expect(metricValue(text, "snakepit_call_duration_seconds_count", { pool: "default", tool: "add" })).toBe(20);
    expect(metricValue(text, "snakepit_workers", { pool: "default", state: "ready" })).toBe(2);
    expect(metricValue(text, "snakepit_circuit_state", { pool: "default" })).toBe(0);
    expect(text).toContain("snakepit_sessions 0");
  });
});

describe("tracing", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });

  test("host span -> worker span -> host-tool span share one trace id", async () => {
    await using pit = await Snakepit.start({ adapter: ADAPTER, poolSize: 1, python: PYTHON });
    pit.tools.register("double", { input: z.object({ x: z.number() }), handler: ({ x }) => 2 * x });
    expect(await pit.execute("traced", { x: 21 })).toBe(42);
    const spans = exporter.getFinishedSpans();
    const byName = (prefix: string) => spans.find((s) => s.name.startsWith(prefix))!;
    const call = byName("snakepit.execute traced");
    const worker = byName("snakepit.worker traced");
    const hostTool = byName("snakepit.host_tool double");
    expect(call && worker && hostTool).toBeTruthy();
    const traceId = call.spanContext().traceId;
    expect(worker.spanContext().traceId).toBe(traceId);
    expect(hostTool.spanContext().traceId).toBe(traceId);
    expect(worker.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    // Without the Python SDK, the host tool's parent is the worker span; with it, Python's span in between.
    const pythonSpan = spans.find((s) => s.name === "python traced");
    expect(hostTool.parentSpanContext?.spanId).toBe((pythonSpan ?? worker).spanContext().spanId);
  });
});

describe("Python telemetry", () => {
  let pit: Snakepit;
  beforeAll(async () => {
    pit = await Snakepit.start({ adapter: ADAPTER, poolSize: 1, python: PYTHON, env: { SNAKEPIT_TELEMETRY_SAMPLE_S: "0.2" } });
    pit.tools.register("double", { input: z.object({ x: z.number() }), handler: ({ x }) => 2 * x });
  });
  afterAll(() => pit.close());

  const collect = (name: string) => {
    const got: Array<{ measurements: Record<string, number>; metadata: Record<string, string>; correlationId: string | undefined }> = [];
    const off = pit.on("python.event", (e) => {
      if (e.name === name) got.push(e);
    });
    return { got, off };
  };

  test("a custom event reaches a host handler with its measurements and the call's correlation id", async () => {
    const { got, off } = collect("python.work.done");
    const stops: string[] = [];
    const offStop = pit.on("call.stop", (e) => stops.push(e.correlationId));
    expect(await pit.execute("traced", { x: 4 })).toBe(8);
    expect(await waitUntil(() => got.length === 1, 2_000)).toBe(true);
    expect(got[0]!.measurements).toEqual({ x: 4 });
    expect(got[0]!.correlationId).toBe(stops[0]!);
    off();
    offStop();
  });

  test("sampling 0.1 lets about 10 % through; a deny filter stops everything", async () => {
    await pit.telemetry.configure({ samplingRate: 0.1 });
    const { got, off } = collect("python.custom.tick");
    const N = 2_000;
    const sent = await pit.execute<number>("emit_events", { n: N });
    await waitUntil(() => got.length === sent, 2_000);
    expect(got.length).toBe(sent);
    // Binomial(2000, 0.1): mean 200, sd 13.4; 6 sd either side.
    expect(sent).toBeGreaterThan(120);
    expect(sent).toBeLessThan(280);
    await pit.telemetry.configure({ deny: ["python.custom.*"] });
    expect(await pit.execute("emit_events", { n: 500 })).toBe(0);
    await pit.telemetry.configure({ allow: ["python.memory"] });
    expect(await pit.execute("emit_events", { n: 10 })).toBe(0);
    await pit.telemetry.configure({});
    expect(await pit.execute("emit_events", { n: 10 })).toBe(10);
    off();
  });

  test("label values are bounded per key, and the capping is reported", async () => {
    const { got, off } = collect("python.custom.labels");
    const capped = collect("python.telemetry.labels_capped");
    await pit.execute("emit_events", { n: 150, name: "custom.labels", distinct_labels: true });
    await waitUntil(() => got.length === 150 && capped.got.length > 0, 2_000);
    expect(new Set(got.map((e) => e.metadata.label)).size).toBe(101);
    expect(got.filter((e) => e.metadata.label === "_other")).toHaveLength(50);
    expect(capped.got[0]!.measurements.count).toBe(50);
    off();
    capped.off();
  });

  test("a full queue drops events and says how many", async () => {
    const dropped: number[] = [];
    const off = pit.on("python.dropped", (e) => dropped.push(e.dropped));
    await pit.execute("emit_events", { n: 30_000, name: "custom.flood" });
    await waitUntil(() => dropped.length > 0, 3_000);
    expect(dropped.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    off();
  });

  test("invalid event names are rejected with a clear error", async () => {
    expect(await pit.execute("bad_name")).toContain("is invalid: use dotted lower_snake_case");
  });

  test("built-in samples: memory, CPU and GC", async () => {
    const names = new Set<string>();
    const off = pit.on("python.event", (e) => names.add(e.name));
    expect(await waitUntil(() => ["python.memory", "python.cpu", "python.gc"].every((n) => names.has(n)), 3_000)).toBe(true);
    off();
  });

  test("per-call Python events are derived from each reply", async () => {
    const { got, off } = collect("python.call.stop");
    const errs = collect("python.call.exception");
    await pit.execute("add", { a: 1 });
    await failure(pit.execute("fail"));
    expect(got[0]!.metadata).toEqual({ tool: "add" });
    expect(got[0]!.measurements.duration_us).toBeGreaterThan(0);
    expect(errs.got[0]!.metadata).toEqual({ tool: "fail", type: "ValueError" });
    off();
    errs.off();
  });
});

describe("host telemetry", () => {
  test("custom events, spans, and the event stream", async () => {
    await using pit = await Snakepit.start({ adapter: ADAPTER, poolSize: 1, python: PYTHON });
    const ac = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of pit.telemetry.events({ names: ["app.*", "call.stop"], signal: ac.signal })) {
        seen.push(e.name === "custom.event" ? (e.data as { name: string }).name : e.name);
        if (seen.length === 4) ac.abort();
      }
    })();
    pit.telemetry.emit("app.loaded", { ms: 5 });
    expect(await pit.telemetry.span("app.job", () => pit.execute("add", { a: 1, b: 2 }))).toBe(3);
    await reading;
    expect(seen).toEqual(["app.loaded", "app.job.start", "call.stop", "app.job.stop"]);
    expect(() => pit.telemetry.emit("Not Valid")).toThrow(expect.objectContaining({ code: "invalid_argument" }));
  });

  test("GET /v1/events streams events as SSE", async () => {
    await using pit = await Snakepit.start({ adapter: ADAPTER, poolSize: 1, python: PYTHON });
    const app = createApp({ pit });
    const ac = new AbortController();
    const res = await app.request("/v1/events?names=call.*", { signal: ac.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    await pit.execute("add", { a: 1 });
    let text = "";
    while (!text.includes("event: call.stop")) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain("event: call.start");
    expect(text).toMatch(/event: call\.stop\ndata: \{"time":\d+,"pool":"default","worker":"default-1","tool":"add"/);
    ac.abort();
    await reader.cancel();
  });

  test("logs are silent but for errors by default, structured, and attribute worker output", async () => {
    const records: Array<{ level: string; category: string; message: string; worker?: string }> = [];
    await using quiet = await Snakepit.start({ adapter: fixture("echo.py"), poolSize: 1, python: PYTHON }, { logSink: (r) => records.push(r) });
    await quiet.execute("noisy", { n: 1 });
    await failure(quiet.execute("crash"));
    await waitUntil(() => records.length > 0, 2_000);
    expect(records.map((r) => r.level)).toEqual(["error"]);
    expect(records[0]).toMatchObject({ category: "worker", worker: "default-1" });
    records.length = 0;
    await using chatty = await Snakepit.start(
      { adapter: fixture("echo.py"), poolSize: 1, python: PYTHON, telemetry: { log: { level: "info", categories: ["worker"] } } },
      { logSink: (r) => records.push(r) },
    );
    await chatty.execute("noisy", { n: 1 });
    await waitUntil(() => records.some((r) => r.message === "noise to stdout 0"), 2_000);
    expect(records.find((r) => r.message === "noise to stdout 0")).toMatchObject({ level: "info", category: "worker", worker: "default-1" });
    expect(records.every((r) => r.category === "worker")).toBe(true);
  });
});

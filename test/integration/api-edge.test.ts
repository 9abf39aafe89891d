import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { createApp } from "../../src/api/app.ts";
import { loadConfig } from "../../src/config/load.ts";
import { Snakepit } from "../../src/mod.ts";
import { deepExecuteRequest } from "../fixtures/deep-proto.ts";
import { DEMO, PYTHON } from "../helpers.ts";

let pit: Snakepit;
let app: ReturnType<typeof createApp>;
const TOKEN = "edge-token-1";
const auth = { authorization: `Bearer ${TOKEN}` };
const post = async (path: string, body: unknown, headers: Record<string, string> = {}) =>
  await app.request(path, { method: "POST", headers: { "content-type": "application/json", ...auth, ...headers }, body: typeof body === "string" || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body) });
const nested = (depth: number) => `{"tool":"echo","args":{"x":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
const CONNECT = "/snakepit.api.v1.ControlService";

beforeAll(async () => {
  pit = await Snakepit.start({ adapter: DEMO, poolSize: 2, python: PYTHON });
  app = createApp({ pit, token: TOKEN, maxBodyBytes: 4 * 1024 * 1024, version: "test", limits: { maxStreamsPerClient: 2, maxEventSubscribers: 2, eventBufferSize: 4 } });
});
afterAll(() => pit.close());

describe("edge limits: checked before anything reaches Python", () => {
  for (const depth of [1_000, 100_000]) {
    test(`arguments nested ${depth} deep -> 400 naming the limit, fast, no worker lost`, async () => {
      const workers = pit.listWorkers().map((w) => w.id).sort();
      const t0 = performance.now();
      const res = await post("/v1/execute", nested(depth));
      const ms = performance.now() - t0;
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.code).toBe("invalid_argument");
      expect(body.message).toContain("limit of 64 levels (server.limits.maxDepth)");
      expect(ms).toBeLessThan(100);
      expect(pit.listWorkers().map((w) => w.id).sort()).toEqual(workers);
      expect(await (await post("/v1/execute", { tool: "add", args: { a: 1, b: 1 } })).json()).toEqual({ result: 2 });
    });
  }

  test("depth within the limit passes; the Connect route applies the same limit", async () => {
    expect((await post("/v1/execute", nested(20))).status).toBe(200);
    const res = await post(`${CONNECT}/Execute`, nested(1_000));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("maxDepth") });
  });

  test("binary protobuf (Connect) nested 80, 1000 and 100 000 deep -> 400 invalid_argument", async () => {
    for (const depth of [80, 1_000, 100_000]) {
      const t0 = performance.now();
      const res = await post(`${CONNECT}/Execute`, deepExecuteRequest("echo", depth), { "content-type": "application/proto" });
      expect(performance.now() - t0).toBeLessThan(1_000);
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.code).toBe("invalid_argument");
      expect(body.message).toContain("maxDepth");
    }
    expect((await post(`${CONNECT}/Execute`, deepExecuteRequest("echo", 10), { "content-type": "application/proto" })).status).toBe(200);
  });

  test("a lone surrogate -> 400, not 500", async () => {
    const res = await post("/v1/execute", '{"tool":"echo","args":{"s":"\\ud800"}}');
    expect(res.status).toBe(400);
    expect((await res.json()).message).toContain("lone UTF-16 surrogate");
    expect((await post("/v1/execute", '{"tool":"echo","args":{"s":"\\ud83d\\ude00"}}')).status).toBe(200);
  });

  test("/v1/events?names=[[[ -> 400", async () => {
    const res = await app.request("/v1/events?names=[[[", { headers: auth });
    expect(res.status).toBe(400);
    expect((await res.json()).message).toContain('Bad name glob "[[["');
  });

  test("gzip request bodies are accepted (JSON route and Connect); a gzip bomb is refused", async () => {
    const body = gzipSync(JSON.stringify({ tool: "add", args: { a: 2, b: 3 } }));
    expect(await (await post("/v1/execute", new Uint8Array(body), { "content-encoding": "gzip" })).json()).toEqual({ result: 5 });
    const connect = await post(`${CONNECT}/Execute`, new Uint8Array(gzipSync(JSON.stringify({ tool: "add", args: { a: 2, b: 4 } }))), { "content-encoding": "gzip" });
    expect(await connect.json()).toEqual({ result: 6 });
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    const res = await post("/v1/execute", new Uint8Array(bomb), { "content-encoding": "gzip" });
    expect(res.status).toBe(413);
  });
});

describe("papercuts", () => {
  test("GET on a POST route -> 405 with Allow and a JSON error", async () => {
    const res = await app.request("/v1/execute", { headers: auth });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect((await res.json()).message).toBe("GET is not allowed on /v1/execute; use POST");
    const sessions = await app.request("/v1/sessions/x", { method: "PUT", headers: auth });
    expect(sessions.status).toBe(405);
    expect(sessions.headers.get("allow")).toBe("GET, DELETE");
  });

  test("POST /v1/sessions takes id (session_id kept as an alias) and answers id", async () => {
    const a = await post("/v1/sessions", { id: "edge-a" });
    expect(a.status).toBe(201);
    expect((await a.json()).id).toBe("edge-a");
    expect(a.headers.get("location")).toBe("/v1/sessions/edge-a");
    expect((await (await post("/v1/sessions", { session_id: "edge-b" })).json()).id).toBe("edge-b");
    const clash = await post("/v1/sessions", { id: "x1", session_id: "x2" });
    expect(clash.status).toBe(400);
    expect((await post("/v1/sessions", { id: "edge-a" })).status).toBe(400);
  });

  test("a deadline error names the budget and the margins", async () => {
    const res = await post("/v1/execute", { tool: "sleep", args: { ms: 5_000 }, timeout_ms: 3_000 });
    expect(res.status).toBe(504);
    const body = await res.json();
    expect(body.message).toStartWith("deadline of 3000 ms passed (inner budget 1800 ms after 1200 ms of margins)");
    expect(body.details).toMatchObject({ budgetMs: 3000, innerBudgetMs: 1800, marginsMs: 1200 });
  }, 20_000);

  test("a token of whitespace is refused at config time", async () => {
    expect(() => loadConfig({ flags: { adapter: DEMO, host: "0.0.0.0", token: "        " } })).toThrow(/empty or only whitespace/);
    expect(() => loadConfig({ flags: { adapter: DEMO, token: "abc def ghi" } })).toThrow(/must not contain spaces/);
  });
});

describe("Connect: errors in Connect's shape, deadlines, details", () => {
  const connectPost = async (method: string, body: unknown, headers: Record<string, string> = {}) => await post(`${CONNECT}/${method}`, body, headers);

  test("errors made before the handler (401, 404, 405, 413) are Connect JSON errors", async () => {
    const noAuth = await app.request(`${CONNECT}/Execute`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toMatchObject({ code: "unauthenticated", message: expect.stringContaining("Missing bearer token") });
    const missing = await connectPost("Nope", {});
    expect(missing.status).toBe(404);
    expect((await missing.json()).code).toBe("not_found");
    const get = await app.request(`${CONNECT}/Execute`, { headers: auth });
    expect(get.status).toBe(405);
    expect((await get.json()).code).toBe("not_found");
    const big = await connectPost("Execute", { tool: "echo", args: { x: "y".repeat(5 * 1024 * 1024) } });
    expect(await big.json()).toMatchObject({ code: "resource_exhausted", message: expect.stringContaining("server.maxBodyBytes") });
    const stream = await app.request(`${CONNECT}/Stream`, { method: "POST", headers: { "content-type": "application/connect+json" }, body: new Uint8Array(5) });
    expect(stream.status).toBe(200);
    const frame = new Uint8Array(await stream.arrayBuffer());
    expect(frame[0]).toBe(2);
    expect(JSON.parse(new TextDecoder().decode(frame.subarray(5))).error.code).toBe("unauthenticated");
  });

  test("Connect-Timeout-Ms expiry -> deadline_exceeded (not canceled)", async () => {
    const res = await connectPost("Execute", { tool: "sleep", args: { ms: 5_000 } }, { "connect-timeout-ms": "300" });
    const body = await res.json();
    expect(body.code).toBe("deadline_exceeded");
    expect(body.message).toContain("deadline of");
  }, 20_000);

  test("a Python failure carries ErrorInfo with the type and traceback", async () => {
    const body = await (await connectPost("Execute", { tool: "fail", args: { message: "bad" } })).json();
    expect(body.code).toBe("unknown");
    expect(body.details[0].type).toBe("snakepit.api.v1.ErrorInfo");
    expect(body.details[0].debug).toMatchObject({ code: "python_exception", pythonType: "RuntimeError", traceback: expect.stringContaining("RuntimeError: bad") });
  });
});

describe("stream and subscriber caps", () => {
  test("per-client streams beyond the limit get a clear 429; closing one frees its slot", async () => {
    const open = [await post("/v1/stream", { tool: "count", args: { n: 100, delay_ms: 50 } }), await post("/v1/stream", { tool: "count", args: { n: 100, delay_ms: 50 } })];
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    const third = await post("/v1/stream", { tool: "count", args: { n: 1 } });
    expect(third.status).toBe(429);
    expect((await third.json()).message).toContain("server.limits.maxStreamsPerClient");
    await open[0]!.body!.cancel();
    const again = await post("/v1/stream", { tool: "count", args: { n: 1 } });
    expect(again.status).toBe(200);
    await again.text();
    await open[1]!.body!.cancel();
  });

  test("event subscribers are capped; a slow one loses the oldest events and gets a counted gap marker", async () => {
    const slow = await app.request("/v1/events?names=call.*,telemetry.*", { headers: auth });
    expect(slow.status).toBe(200);
    const reader = slow.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(": subscribed\n\n");
    const other = await app.request("/v1/events", { headers: auth });
    const refused = await app.request("/v1/events", { headers: auth });
    expect(refused.status).toBe(429);
    expect((await refused.json()).message).toContain("server.limits.maxEventSubscribers");
    await other.body!.cancel();
    for (let i = 0; i < 10; i++) await post("/v1/execute", { tool: "add", args: { a: i } });
    let text = "";
    const decoder = new TextDecoder();
    while (!text.includes("event: call.stop") || text.split("event: ").length < 5) text += decoder.decode((await reader.read()).value);
    const gap = /event: telemetry.dropped\ndata: (.*)\n/.exec(text);
    expect(gap).not.toBeNull();
    expect(JSON.parse(gap![1]!).dropped).toBeGreaterThan(0);
    await reader.cancel();
    // Closed subscriptions give their places back.
    const next = [await app.request("/v1/events", { headers: auth }), await app.request("/v1/events", { headers: auth })];
    expect(next.map((r) => r.status)).toEqual([200, 200]);
    for (const r of next) await r.body!.cancel();
  });
});

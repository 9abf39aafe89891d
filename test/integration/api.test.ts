import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createApp } from "../../src/api/app.ts";
import { ControlService } from "../../src/bridge/gen/snakepit/api/v1/control_pb.ts";
import { Snakepit } from "../../src/mod.ts";
import { DEMO, PYTHON } from "../helpers.ts";

let pit: Snakepit;
let app: ReturnType<typeof createApp>;
const TOKEN = "s3cret-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const post = async (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  await app.request(path, { method: "POST", headers: { "content-type": "application/json", ...auth, ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

beforeAll(async () => {
  pit = await Snakepit.start({ adapter: DEMO, poolSize: 2, python: PYTHON });
  app = createApp({ pit, token: TOKEN, maxBodyBytes: 64 * 1024, version: "test" });
});
afterAll(() => pit.close());

describe("createApp() routes", () => {
  test("GET /healthz and /readyz need no token", async () => {
    expect(await (await app.request("/healthz")).json()).toEqual({ status: "ok", version: "test" });
    const ready = await app.request("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, pools: [{ name: "default", ready: 2, healthy: true, recentCrashes: 0, circuit: "closed" }] });
  });

  test("POST /v1/execute answers { result }", async () => {
    const res = await post("/v1/execute", { tool: "add", args: { a: 1, b: 2 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: 3 });
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  test("bytes and special numbers travel as typed objects", async () => {
    const res = await post("/v1/execute", {
      tool: "echo",
      args: { b: { __snakepit__: "bytes", base64: Buffer.from("hi").toString("base64") }, n: { __snakepit__: "float", value: "nan" } },
    });
    expect(await res.json()).toEqual({
      result: { b: { __snakepit__: "bytes", base64: "aGk=" }, n: { __snakepit__: "float", value: "nan" } },
    });
  });

  test("POST /v1/stream answers NDJSON by default and SSE on request", async () => {
    const nd = await post("/v1/stream", { tool: "count", args: { n: 2 } });
    expect(nd.headers.get("content-type")).toBe("application/x-ndjson");
    expect((await nd.text()).trim().split("\n").map((l) => JSON.parse(l))).toEqual([{ chunk: { i: 0 } }, { chunk: { i: 1 } }, { end: true }]);
    const sse = await post("/v1/stream", { tool: "count", args: { n: 1 } }, { accept: "text/event-stream" });
    expect(sse.headers.get("content-type")).toBe("text/event-stream");
    expect(await sse.text()).toBe('event: chunk\ndata: {"i":0}\n\nevent: end\ndata: {}\n\n');
  });

  test("a stream that fails before its first chunk gets a JSON error status", async () => {
    const res = await post("/v1/stream", { tool: "nope" });
    expect(res.status).toBe(404);
    expect((await res.json()).code).toBe("tool_not_found");
  });

  test("GET /v1/workers, /v1/pools, /v1/tools", async () => {
    const workers = (await (await app.request("/v1/workers", { headers: auth })).json()).workers;
    expect(workers).toHaveLength(2);
    expect(workers[0]).toMatchObject({ pool: "default", state: "ready", capacity: 1 });
    const pools = (await (await app.request("/v1/pools", { headers: auth })).json()).pools;
    expect(pools[0]).toMatchObject({ name: "default", size: 2, stats: { workers: 2, ready: 2 } });
    const tools = (await (await app.request("/v1/tools", { headers: auth })).json()).tools;
    expect(tools.map((t: { name: string }) => t.name)).toContain("add");
  });

  test("POST /v1/workers/:id/recycle replaces the worker without failing calls", async () => {
    const [first] = pit.listWorkers();
    const calls = Array.from({ length: 20 }, (_, i) => pit.execute("sleep", { ms: 20 + i }));
    const res = await post(`/v1/workers/${first!.id}/recycle`, {});
    expect(res.status).toBe(200);
    const { replacedBy } = await res.json();
    expect(await Promise.all(calls)).toHaveLength(20);
    const ids = pit.listWorkers().map((w) => w.id);
    expect(ids).toContain(replacedBy);
    expect(ids).not.toContain(first!.id);
    expect((await post("/v1/workers/nope/recycle", {})).status).toBe(404);
  });

  test("sessions: create, get, list, delete; execute in a session with its affinity", async () => {
    const created = await post("/v1/sessions", { session_id: "web-1", metadata: { user: "ada" } });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ id: "web-1", metadata: { user: "ada" }, workers: {} });
    const res = await post("/v1/execute", { tool: "pid", session_id: "web-1", affinity: "strict_queue" });
    const { result: pid } = await res.json();
    for (let i = 0; i < 3; i++) {
      expect(await (await post("/v1/execute", { tool: "pid", session_id: "web-1", affinity: "strict_queue" })).json()).toEqual({ result: pid });
    }
    const one = await (await app.request("/v1/sessions/web-1", { headers: auth })).json();
    expect(one.stats.calls).toBe(4);
    expect(Object.keys(one.workers)).toEqual(["default"]);
    const list = await (await app.request("/v1/sessions", { headers: auth })).json();
    expect(list.sessions.map((s: { id: string }) => s.id)).toContain("web-1");
    expect((await post("/v1/sessions", { session_id: "web-1" })).status).toBe(400);
    const anon = await post("/v1/sessions", "");
    expect(anon.status).toBe(201);
    expect((await anon.json()).id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await app.request("/v1/sessions/web-1", { method: "DELETE", headers: auth })).status).toBe(204);
    expect((await app.request("/v1/sessions/web-1", { headers: auth })).status).toBe(404);
    expect((await app.request("/v1/sessions/web-1", { method: "DELETE", headers: auth })).status).toBe(404);
    expect((await post("/v1/execute", { tool: "pid", affinity: "sticky" })).status).toBe(400);
  });

  test("GET /openapi.json describes the routes with schemas from zod", async () => {
    const doc = await (await app.request("/openapi.json")).json();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.paths["/v1/execute"].post.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ExecuteBody" });
    expect(doc.components.schemas.ExecuteBody.properties.tool.type).toBe("string");
  });

  test("the Connect service answers typed clients", async () => {
    const transport = createConnectTransport({
      baseUrl: "http://localhost",
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) =>
        await app.request(input instanceof Request ? input : String(input), { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), ...auth } })) as typeof fetch,
    });
    const client = createClient(ControlService, transport);
    const reply = await client.execute({ tool: "add", args: { a: 2, b: 5 } });
    expect(reply.result?.kind).toEqual({ case: "numberValue", value: 7 });
    const chunks = [];
    for await (const c of client.stream({ tool: "count", args: { n: 2 } })) chunks.push(c.data?.kind.value);
    expect(chunks).toHaveLength(2);
    await expect(client.execute({ tool: "nope" })).rejects.toMatchObject({ code: 5 });
  });
});

describe("createApp() bad input: a 4xx JSON error naming the problem, and the server keeps serving", () => {
  const cases: Array<[string, () => Promise<Response>, number, string, string]> = [
    ["malformed JSON", () => post("/v1/execute", "{not json"), 400, "invalid_argument", "Malformed JSON"],
    ["missing tool", () => post("/v1/execute", { args: {} }), 400, "invalid_argument", "tool"],
    ["unknown body field", () => post("/v1/execute", { tool: "add", argz: {} }), 400, "invalid_argument", "argz"],
    ["args not an object", () => post("/v1/execute", { tool: "add", args: [1] }), 400, "invalid_argument", "args"],
    ["wrong content type", () => post("/v1/execute", "x", { "content-type": "text/plain" }), 400, "invalid_argument", "Content-Type"],
    ["unknown tool", () => post("/v1/execute", { tool: "nope" }), 404, "tool_not_found", "nope"],
    ["wrong argument type", () => post("/v1/execute", { tool: "add", args: { a: "x" } }), 400, "invalid_argument", "a must be a number"],
    ["unknown pool", () => post("/v1/execute", { tool: "add", args: { a: 1 }, pool: "gpu" }), 400, "invalid_argument", "gpu"],
    ["oversized body", () => post("/v1/execute", { tool: "echo", args: { x: "y".repeat(100_000) } }), 413, "payload_too_large", "larger than 65536"],
    ["unknown route", async () => await app.request("/v2/nothing", { headers: auth }), 404, "not_found", "/v2/nothing"],
    ["missing token", async () => await app.request("/v1/workers"), 401, "unauthenticated", "Missing bearer token"],
    ["wrong token", async () => await app.request("/v1/workers", { headers: { authorization: "Bearer nope" } }), 401, "unauthenticated", "Wrong bearer token"],
    ["Python exception", () => post("/v1/execute", { tool: "fail", args: { message: "bad" } }), 500, "python_exception", "RuntimeError: bad"],
  ];
  for (const [name, send, status, code, text] of cases) {
    test(`${name} -> ${status} ${code}`, async () => {
      const res = await send();
      expect(res.status).toBe(status);
      const body = await res.json();
      expect(body.code).toBe(code);
      expect(body.message).toContain(text);
      expect(body.details.requestId).toBeTruthy();
      expect(await (await post("/v1/execute", { tool: "add", args: { a: 1 } })).json()).toEqual({ result: 1 });
    });
  }
});

describe("createApp() without a token: this machine's programs only", () => {
  test("cross-site and rebinding requests are refused; a plain local client is served", async () => {
    const open = createApp({ pit });
    const body = JSON.stringify({ tool: "add", args: { a: 1, b: 2 } });
    const send = async (headers: Record<string, string>) => await open.request("/v1/execute", { method: "POST", headers, body });
    expect((await send({ "content-type": "application/json", host: "127.0.0.1:7117" })).status).toBe(200);
    expect((await send({ "content-type": "application/json", host: "localhost" })).status).toBe(200);
    const simple = await send({ "content-type": "text/plain; application/json" });
    expect(simple.status).toBe(400);
    expect((await simple.json()).message).toContain("Content-Type must be application/json");
    const rebound = await send({ "content-type": "application/json", host: "evil.example:7117" });
    expect(rebound.status).toBe(401);
    expect((await rebound.json()).message).toContain("is not a loopback address");
    expect((await send({ "content-type": "application/json", origin: "https://evil.example" })).status).toBe(401);
    // Any page, local ones included, is another site: refused unless listed in allowedOrigins.
    const localPage = await send({ "content-type": "application/json", origin: "http://localhost:3000" });
    expect(localPage.status).toBe(401);
    expect((await localPage.json()).message).toContain("server.allowedOrigins");
    const listed = createApp({ pit, allowedOrigins: ["http://localhost:3000"] });
    const ok = await listed.request("/v1/execute", { method: "POST", headers: { "content-type": "application/json", origin: "http://localhost:3000" }, body });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    const other = await listed.request("/v1/execute", { method: "POST", headers: { "content-type": "application/json", origin: "http://localhost:4000" }, body });
    expect(other.status).toBe(401);
    expect((await open.request("/v1/workers/default-1/recycle", { method: "POST", headers: { "sec-fetch-site": "cross-site" } })).status).toBe(401);
  });

  test("session bodies are bounded", async () => {
    const big = await post("/v1/sessions", { metadata: { k: "x".repeat(2_000) } });
    expect(big.status).toBe(400);
    const keys = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, "v"]));
    expect((await post("/v1/sessions", { metadata: keys })).status).toBe(400);
    const forever = await post("/v1/sessions", { ttl_ms: 2_000_000_000 });
    expect(forever.status).toBe(400);
    expect((await forever.json()).message).toContain("sessions.maxTtlMs");
    expect((await post("/v1/execute", { tool: "add", args: { a: 1 }, timeout_ms: 3_000_000_000 })).status).toBe(400);
  });

  test("a name glob cannot be used to stall the event stream", async () => {
    const res = await app.request(`/v1/events?names=${"*".repeat(300)}!`, { headers: auth });
    expect(res.status).toBe(400);
    expect((await res.json()).message).toContain("Bad name glob");
  });
});

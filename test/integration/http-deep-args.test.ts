// Arguments nested far past any limit, sent over HTTP: 400 invalid_argument (not a 500 from a
// stack overflow while the server walks the parsed JSON), and the server keeps serving.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import { Snakepit } from "../../src/mod.ts";
import { DEMO, PYTHON } from "../helpers.ts";

let pit: Snakepit;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  pit = await Snakepit.start({ adapter: DEMO, poolSize: 1, python: PYTHON });
  app = createApp({ pit, token: "t0ken", maxBodyBytes: 4 << 20, version: "test" });
});
afterAll(() => pit.close());

const post = (body: string) => app.request("/v1/execute", { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer t0ken" }, body });

test.each([1_000, 100_000, 1_000_000])("args %i levels deep over HTTP: 400 invalid_argument", async (depth) => {
  const res = await post(`{"tool":"echo","args":{"x":${"[".repeat(depth)}${"]".repeat(depth)}}}`);
  expect({ status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({ status: 400, code: "invalid_argument" });
  const ok = await post(`{"tool":"add","args":{"a":1,"b":2}}`);
  expect(await ok.json()).toEqual({ result: 3 });
}, 30_000);

test("a \"__proto__\" key in args arrives as a plain key over HTTP, both ways (never dropped, never a prototype)", async () => {
  const res = await post(`{"tool":"echo","args":{"__proto__":{"polluted":true},"a":2,"n":{"__proto__":3}}}`);
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).toBe(`{"result":{"__proto__":{"polluted":true},"a":2,"n":{"__proto__":3}}}`);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}, 30_000);

test("a tool name of a megabyte is refused with a short invalid_argument, not echoed back", async () => {
  const res = await post(JSON.stringify({ tool: "x".repeat(1 << 20), args: {} }));
  expect(res.status).toBe(400);
  const text = await res.text();
  expect(text.length).toBeLessThan(1_000);
  expect(JSON.parse(text)).toMatchObject({ code: "invalid_argument", details: { field: "tool", maxLength: 256 } });
}, 30_000);

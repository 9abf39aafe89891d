// The HTTP face on a real socket: a declared oversized body is refused from its Content-Length,
// chunked bodies are bounded.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { createApp } from "../../src/api/app.ts";
import { Snakepit } from "../../src/mod.ts";
import { type HttpServer, serveHttp } from "../../src/runtime/process.ts";
import { DEMO, PYTHON } from "../helpers.ts";

let pit: Snakepit;
let server: HttpServer;
const LIMIT = 64 * 1024;

beforeAll(async () => {
  pit = await Snakepit.start({ adapter: DEMO, poolSize: 2, python: PYTHON });
  server = serveHttp(createApp({ pit, maxBodyBytes: LIMIT }).fetch, { hostname: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await server.stop(true);
  await pit.close();
});

/** Write `raw` on a new connection; resolve once `done(received)` says the answer is whole. */
function exchange(raw: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket: Socket = connect(server.port, "127.0.0.1", () => socket.write(raw));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no whole answer within 20 s; got:\n${text}`));
    }, 20_000);
    socket.on("data", (d) => {
      text += d.toString("latin1");
      if (done(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on("error", reject);
  });
}

/** The bodies of the HTTP responses in `text`, in the order they came. */
function bodies(text: string): Array<{ status: number; body: string }> {
  const out: Array<{ status: number; body: string }> = [];
  let at = 0;
  while (at < text.length) {
    const head = text.indexOf("\r\n\r\n", at);
    if (head < 0) break;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text.slice(at, head))?.[1]);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(at, head + 2))?.[1] ?? NaN);
    if (!Number.isFinite(length) || head + 4 + length > text.length) break;
    out.push({ status, body: text.slice(head + 4, head + 4 + length) });
    at = head + 4 + length;
  }
  return out;
}

test("a body declared larger than the limit is refused from its Content-Length, before it is sent", async () => {
  const head = `POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${LIMIT + 1}\r\n\r\n{"tool":"add",`;
  const text = await exchange(head, (t) => bodies(t).length === 1);
  const [answer] = bodies(text);
  expect(answer!.status).toBe(413);
  expect(JSON.parse(answer!.body)).toMatchObject({ code: "payload_too_large", message: expect.stringContaining(`${LIMIT} bytes`) });
});

test("chunked bodies: under the limit they are read, over it they are refused", async () => {
  const chunked = (body: string) => {
    const parts = [body.slice(0, 10), body.slice(10)].filter((p) => p.length > 0);
    const chunks = parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join("");
    return `POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`;
  };
  const small = bodies(await exchange(chunked(JSON.stringify({ tool: "add", args: { a: 2, b: 3 } })), (t) => bodies(t).length === 1));
  expect(small[0]).toEqual({ status: 200, body: '{"result":5}' });
  const big = bodies(await exchange(chunked(JSON.stringify({ tool: "echo", args: { x: "y".repeat(LIMIT) } })), (t) => bodies(t).length === 1));
  expect(big[0]!.status).toBe(413);
  expect(JSON.parse(big[0]!.body)).toMatchObject({ code: "payload_too_large" });
});

// Hostile inputs on /v1/execute, the Connect routes and the module API: odd Unicode, numbers a
// double cannot carry, duplicate keys, forged typed values, wrong content types, bodies above the
// limit with and without a length. Each gets a typed error naming what was wrong; the worker that
// would have run it keeps its pid, and the next call is served. (Deep nesting, gzip bombs, lone
// surrogates in values and a 200 MB Content-Length are in api-edge, http-deep-args and grpc tests.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { createApp } from "../../src/api/app.ts";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON } from "../helpers.ts";

let pit: Snakepit;
let app: ReturnType<typeof createApp>;
let server: ReturnType<typeof Bun.serve>;
let workerPid: number;
const MAX_BODY = 1 << 20;
const enc = (s: string) => new TextEncoder().encode(s);
const CONNECT = "/snakepit.api.v1.ControlService/Execute";

beforeAll(async () => {
  pit = await Snakepit.start({ adapter: fixture("hostile.py"), poolSize: 1, python: PYTHON });
  app = createApp({ pit, maxBodyBytes: MAX_BODY, version: "test" });
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req, srv) => app.fetch(req, srv) });
  workerPid = await pit.execute<number>("pid");
});
afterAll(async () => {
  await server.stop(true);
  await pit.close();
});

/** A JSON answer: an error ({code, message, details}) or a result. */
type Answer = { code?: string; message?: string; details?: Record<string, unknown>; result?: unknown };

async function post(path: string, body: BodyInit, type = "application/json"): Promise<{ status: number; body: Answer }> {
  const res = await app.request(path, { method: "POST", headers: { "content-type": type }, body });
  return { status: res.status, body: (await res.json()) as never };
}

/** The same worker still answers: nothing above reached it in a way that cost it. */
async function stillServed(): Promise<void> {
  expect(await pit.execute("pid", {}, { timeoutMs: 10_000 })).toBe(workerPid);
}

describe("HTTP JSON: odd bytes and Unicode", () => {
  test.each([
    ["an overlong encoding (0xC0 0xAF)", [0xc0, 0xaf], "byte 0xc0 at offset 32"],
    ["a byte that is never UTF-8 (0xFF)", [0xff, 0xfe], "byte 0xff at offset 32"],
    ["a UTF-8-encoded surrogate (CESU, 0xED 0xA0 0x80)", [0xed, 0xa0, 0x80], "byte 0xed at offset 32"],
    ["a truncated sequence (0xE2 0x82)", [0xe2, 0x82], "byte 0xe2 at offset 32"],
  ])("%s in a string: 400 naming the byte, on both routes", async (_, bytes, where) => {
    const body = new Uint8Array([...enc('{"tool":"echo","args":{"value":"'), ...bytes, ...enc('"}}')]);
    const plain = await post("/v1/execute", body);
    expect(plain).toMatchObject({ status: 400, body: { code: "invalid_argument", details: { field: "body", offset: 32 } } });
    expect(plain.body.message).toBe(`Request body is not valid UTF-8 (${where})`);
    const viaConnect = await post(CONNECT, body);
    expect(viaConnect.status).toBe(400);
    expect(viaConnect.body.message).toContain(`not valid UTF-8 (${where})`);
    await stillServed();
  });

  test("a BOM, an escaped NUL and a noncharacter are text like any other", async () => {
    expect((await post("/v1/execute", new Uint8Array([0xef, 0xbb, 0xbf, ...enc('{"tool":"echo","args":{"value":1}}')]))).body).toEqual({ result: 1 });
    expect((await post("/v1/execute", '{"tool":"echo","args":{"value":"a\\u0000b\\uffff"}}')).body).toEqual({ result: "a\u0000b\uffff" });
  });

  test("a raw control character inside a string is malformed JSON, said so", async () => {
    const res = await post("/v1/execute", enc('{"tool":"echo","args":{"value":"a\u0000b"}}'));
    expect(res).toMatchObject({ status: 400, body: { code: "invalid_argument", details: { field: "body" } } });
    expect(res.body.message).toStartWith("Malformed JSON body:");
  });
});

describe("HTTP JSON: numbers and keys JSON.parse would silently change", () => {
  test.each([["9007199254740993"], ["-9007199254740993"], ["123456789012345678901234567890"]])("the integer %s: 400 telling how to send it exactly", async (n) => {
    for (const path of ["/v1/execute", CONNECT]) {
      const res = await post(path, `{"tool":"echo","args":{"value":${n}}}`);
      expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 400, code: "invalid_argument" });
      expect(res.body.message).toContain(`holds the integer ${n}, beyond`);
      expect(res.body.message).toContain(`{"__snakepit__":"int","value":"${n}"}`);
    }
    // As the error says: the typed form arrives exact.
    const typed = await post("/v1/execute", `{"tool":"echo","args":{"value":{"__snakepit__":"int","value":"${n}"}}}`);
    expect(typed.body).toEqual({ result: { __snakepit__: "int", value: n } });
  });

  test("the largest exact integers, floats and exponents pass untouched", async () => {
    const res = await post("/v1/execute", '{"tool":"echo","args":{"value":[9007199254740991,-9007199254740991,1e300,1.5e-300,0.1234567890123456789,1E+300]}}');
    expect(res.body).toEqual({ result: [9007199254740991, -9007199254740991, 1e300, 1.5e-300, 0.1234567890123456789, 1e300] });
  });

  test("1e400 (Infinity once parsed): 400 naming the field, on both routes", async () => {
    for (const path of ["/v1/execute", CONNECT]) {
      const res = await post(path, '{"tool":"echo","args":{"value":1e400}}');
      expect(res.status).toBe(400);
      expect(res.body.message).toContain("args.value is a number beyond the range of a double (it reads as Infinity)");
    }
  });

  test("duplicate keys are refused, naming the key (never 'the last one wins')", async () => {
    const top = await post("/v1/execute", '{"tool":"echo","tool":"pid","args":{}}');
    expect(top).toMatchObject({ status: 400, body: { code: "invalid_argument", details: { field: "body.tool" } } });
    expect(top.body.message).toContain('body has the key "tool" twice');
    const nested = await post("/v1/execute", '{"tool":"echo","args":{"value":{"a":1,"b":[{"x":1,"\\u0078":2}]}}}');
    expect(nested.body.message).toContain('body.args.value.b[] has the key "x" twice');
    const viaConnect = await post(CONNECT, '{"tool":"echo","args":{"value":1,"value":2}}');
    expect(viaConnect.status).toBe(400);
    expect(viaConnect.body.message).toContain('duplicate object key "value"');
    // Equal-looking keys that differ are fine; so are colons inside strings.
    expect((await post("/v1/execute", '{"tool":"echo","args":{"value":{"a:b":"c:d","a":1,"A":2}}}')).body).toEqual({ result: { "a:b": "c:d", a: 1, A: 2 } });
    await stillServed();
  });
});

describe("HTTP JSON: forged typed values", () => {
  test.each([
    [{ __snakepit__: "pickle", base64: "AAAA" }, 'unknown typed value "pickle"'],
    [{ __snakepit__: "int", value: "abc" }, 'a typed int needs "value": a string of decimal digits, got "abc"'],
    [{ __snakepit__: "int", value: 12 }, "a typed int needs"],
    [{ __snakepit__: "float", value: "lots" }, "a typed float needs"],
    [{ __snakepit__: "bytes", base64: "!!!!" }, '"base64" is not valid base64 text'],
    [{ __snakepit__: "bytes" }, 'a typed bytes value needs "base64"'],
    [{ __snakepit__: "bytes", ref: 0 }, 'not "ref" or "shm"'],
    [{ __snakepit__: "bytes", shm: { name: "/dev/shm/x", size: 8 } }, 'not "ref" or "shm"'],
    [{ __snakepit__: "ndarray", dtype: "complex128", shape: [1], base64: "AAAAAAAAAAAAAAAAAAAAAA==" }, 'ndarray dtype "complex128" is not one of'],
  ])("%j: 400 naming it", async (value, message) => {
    const res = await post("/v1/execute", JSON.stringify({ tool: "echo", args: { value: [1, value] } }));
    expect(res).toMatchObject({ status: 400, body: { code: "invalid_argument", details: { field: "args.value[1]" } } });
    expect(res.body.message).toContain(message);
  });

  test("well-formed typed values still pass", async () => {
    const res = await post("/v1/execute", JSON.stringify({ tool: "echo", args: { value: [{ __snakepit__: "bytes", base64: "aGk=" }, { __snakepit__: "float", value: "-inf" }, { __snakepit__: "int", value: "-5" }] } }));
    expect(res.body).toEqual({ result: [{ __snakepit__: "bytes", base64: "aGk=" }, { __snakepit__: "float", value: "-inf" }, -5] });
  });
});

describe("HTTP: wrong content types", () => {
  test.each([["text/plain"], ["application/x-www-form-urlencoded"], ["multipart/form-data; boundary=x"], [""]])("JSON route with %j: 400 naming the content type", async (type) => {
    const res = await post("/v1/execute", '{"tool":"echo","args":{"value":1}}', type);
    expect(res).toMatchObject({ status: 400, body: { code: "invalid_argument", details: { field: "content-type" } } });
  });

  test("a charset other than UTF-8 is refused (JSON has one), utf-8 in any spelling passes", async () => {
    const latin = await post("/v1/execute", '{"tool":"echo","args":{"value":1}}', "application/json; charset=iso-8859-1");
    expect(latin.body.message).toBe('Content-Type charset must be utf-8 (JSON is UTF-8), got "iso-8859-1"');
    expect((await post("/v1/execute", '{"tool":"echo","args":{"value":1}}', 'application/json; charset="UTF-8"')).body).toEqual({ result: 1 });
  });

  test("Connect with a type it does not speak: 415 with a Connect error naming the type", async () => {
    const res = await post(CONNECT, '{"tool":"echo"}', "text/plain");
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ code: "invalid_argument" });
    expect(res.body.message).toStartWith('Content-Type "text/plain" is not a Connect or gRPC-web type');
  });

  test("a binary Connect message that is not protobuf is not blamed on the depth limit", async () => {
    const res = await post(CONNECT, new Uint8Array([0x0a, 0x02, 0xc0, 0xaf]), "application/proto");
    expect(res.status).toBe(400);
    expect(res.body.message).toContain("not valid for encoding utf-8");
    expect(res.body.message).not.toContain("maxDepth");
  });
});

/** Raw HTTP/1.1 on a real socket: the answer's status line and JSON body. */
function rawRequest(head: string, body: Uint8Array | string): Promise<{ status: number; json: Record<string, unknown> }> {
  const port = server.port;
  return new Promise((resolve, reject) => {
    const sock = connect(port!, "127.0.0.1", () => {
      sock.write(head);
      sock.write(body); // never half-closed: Bun drops a connection whose client sent FIN
    });
    let text = "";
    sock.on("data", (d) => {
      text += d.toString("latin1");
      const at = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text);
      if (at >= 0 && length && text.length >= at + 4 + Number(length[1])) {
        sock.destroy();
        resolve({ status: Number(text.slice(9, 12)), json: JSON.parse(text.slice(at + 4, at + 4 + Number(length[1]))) as Record<string, unknown> });
      }
    });
    sock.on("error", reject);
    sock.on("close", () => reject(new Error(`closed without a whole answer: ${text.slice(0, 300)}`)));
  });
}

describe("bodies above the limit on a real socket", () => {
  const chunked = (size: number) => {
    const payload = `{"tool":"echo","args":{"value":"${"x".repeat(size)}"}}`;
    return `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`;
  };
  const head = (path: string, extra: string) => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${extra}\r\n`;

  test("chunked, no Content-Length, above the limit: 413 naming it, on both routes", async () => {
    for (const path of ["/v1/execute", CONNECT]) {
      const res = await rawRequest(head(path, "Transfer-Encoding: chunked\r\n"), chunked(MAX_BODY + 10));
      expect(res.status).toBe(path === CONNECT ? 429 : 413); // Connect's resource_exhausted
      expect(String(res.json.message)).toContain(`larger than ${MAX_BODY} bytes`);
    }
    await stillServed();
  });

  test("chunked within the limit is served", async () => {
    const res = await rawRequest(head("/v1/execute", "Transfer-Encoding: chunked\r\n"), chunked(1000));
    expect(res.status).toBe(200);
    expect(String((res.json as { result: string }).result)).toHaveLength(1000);
  });

  test("a Content-Length above the limit is refused before the body is sent", async () => {
    const res = await rawRequest(head("/v1/execute", `Content-Length: ${MAX_BODY * 64}\r\n`), "{");
    expect(res).toMatchObject({ status: 413, json: { code: "payload_too_large" } });
  });
});

describe("module API", () => {
  test("a lone surrogate in an argument's name or a nested key: invalid_argument at once, the worker lives", async () => {
    // The worker's error named the key, with the surrogate in it, and could not encode its own
    // answer: the nested case hung until the deadline (then the worker was killed), the
    // top-level one crashed the worker.
    for (const args of [{ value: { "\udc00": 1 } }, { "\ud800": 1 }, { value: [{ ok: 1 }, { ["a\ud800b"]: [1] }] }]) {
      const err = await failure(pit.execute("echo", args, { timeoutMs: 20_000 }));
      expect(err.code).toBe("invalid_argument");
      expect(err.message).toContain("holds a lone UTF-16 surrogate");
      expect(err.message).toMatch(/\\ud[89a-f]00/); // the key, escaped
      await stillServed();
    }
  }, 60_000);

  test("a tool whose exception message holds a lone surrogate answers with that error (it hung until the deadline)", async () => {
    const t0 = performance.now();
    const err = await failure(pit.execute("bad_text", { where: "error" }, { timeoutMs: 20_000 }));
    expect(err).toMatchObject({ code: "python_exception", message: "ValueError: bad \\ud800 text", python: { type: "ValueError" } });
    expect(performance.now() - t0).toBeLessThan(10_000);
    await stillServed();
  }, 60_000);

  test("lone surrogates in a result, a result's key and a stream chunk are typed errors; the worker lives", async () => {
    expect((await failure(pit.execute("bad_text", {}))).message).toContain("surrogates not allowed");
    expect((await failure(pit.execute("bad_text", { where: "key" }))).message).toContain("surrogates not allowed");
    const seen: unknown[] = [];
    const err = await failure((async () => {
      for await (const c of pit.stream("bad_chunks", {}, { timeoutMs: 20_000 })) seen.push(c);
    })());
    expect(seen).toEqual(["fine"]);
    expect(err.message).toContain("surrogates not allowed");
    await stillServed();
  }, 60_000);
});

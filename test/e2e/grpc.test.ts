// ControlService against the compiled binary: buf curl (connect, grpc, grpcweb), an
// @grpc/grpc-js client and Python grpcio; plus the serve-side edge fixes that need a real socket.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect as tcpConnect, type Socket } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, type Message, toBinary, toJson } from "@bufbuild/protobuf";
import { ControlService, ErrorInfoSchema, ExecuteRequestSchema, ExecuteResponseSchema, StreamChunkSchema } from "../../src/bridge/gen/snakepit/api/v1/control_pb.ts";
import { createClient } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { deepExecuteRequest } from "../fixtures/deep-proto.ts";
import { DEMO, PYTHON, ROOT, startServer, type Server, waitUntil } from "../helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "snakepit-grpc-"));
const BIN = join(dir, "snakepit");
const TOKEN = "grpc-token-42";
const BUF = join(ROOT, "node_modules/.bin/buf");
let server: Server;
let grpcPort = 0;

beforeAll(async () => {
  const build = Bun.spawnSync([process.execPath, "scripts/build.ts", BIN], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
  server = await startServer([BIN, "serve", "--port", "0", "--grpc-port", "0", "--pool-size", "2"], { SNAKEPIT_TOKEN: TOKEN });
  await waitUntil(() => /HTTP\/2\) listening on \S+:(\d+)/.test(server.output()), 10_000);
  grpcPort = Number(/HTTP\/2\) listening on \S+:(\d+)/.exec(server.output())![1]);
}, 120_000);
afterAll(async () => {
  server?.proc.kill("SIGTERM");
  await server?.proc.exited;
  rmSync(dir, { recursive: true, force: true });
});

function bufCurl(protocol: string, url: string, data: unknown, extra: string[] = []): { code: number; out: string } {
  const args = [BUF, "curl", "--protocol", protocol, "--schema", join(ROOT, "proto"), "-d", JSON.stringify(data), ...extra, url];
  if (protocol === "grpc") args.splice(2, 0, "--http2-prior-knowledge");
  const p = Bun.spawnSync(args, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

describe("buf curl", () => {
  const auth = ["-H", `authorization: Bearer ${TOKEN}`];
  for (const protocol of ["connect", "grpc", "grpcweb"]) {
    test(`--protocol ${protocol}: unary, stream, typed errors with their message`, () => {
      const base = protocol === "grpc" ? `http://127.0.0.1:${grpcPort}` : server.url;
      const m = (name: string) => `${base}/snakepit.api.v1.ControlService/${name}`;
      const add = bufCurl(protocol, m("Execute"), { tool: "add", args: { a: 1, b: 2 } }, auth);
      expect(add.code).toBe(0);
      expect(JSON.parse(add.out)).toEqual({ result: 3 });
      const stream = bufCurl(protocol, m("Stream"), { tool: "count", args: { n: 2 } }, auth);
      expect(stream.code).toBe(0);
      expect(stream.out.match(/"i": \d/g)).toEqual(['"i": 0', '"i": 1']);
      const workers = bufCurl(protocol, m("ListWorkers"), {}, auth);
      expect(workers.code).toBe(0);
      expect(JSON.parse(workers.out).workers).toHaveLength(2);
      const noAuth = bufCurl(protocol, m("Execute"), { tool: "add" });
      expect(noAuth.code).not.toBe(0);
      expect(noAuth.out).toContain("unauthenticated");
      expect(noAuth.out).toContain("Missing bearer token");
      const fail = bufCurl(protocol, m("Execute"), { tool: "fail", args: { message: "bad" } }, auth);
      expect(fail.out).toContain("RuntimeError: bad");
      expect(fail.out).toContain("snakepit.api.v1.ErrorInfo");
      const late = bufCurl(protocol, m("Execute"), { tool: "sleep", args: { ms: 5_000 } }, [...auth, "--timeout", "1s"]);
      expect(late.out).toContain("deadline_exceeded");
    }, 60_000);
  }
});

describe("@grpc/grpc-js client", () => {
  const wrap = <T extends Message>(schema: Parameters<typeof toBinary>[0]) => ({
    serialize: (m: T) => Buffer.from(toBinary(schema, m)),
    deserialize: (b: Buffer) => fromBinary(schema, b) as T,
  });
  const req = wrap(ExecuteRequestSchema);
  const def = {
    Execute: { path: "/snakepit.api.v1.ControlService/Execute", requestStream: false, responseStream: false, requestSerialize: req.serialize, requestDeserialize: req.deserialize, responseSerialize: wrap(ExecuteResponseSchema).serialize, responseDeserialize: wrap(ExecuteResponseSchema).deserialize },
    Stream: { path: "/snakepit.api.v1.ControlService/Stream", requestStream: false, responseStream: true, requestSerialize: req.serialize, requestDeserialize: req.deserialize, responseSerialize: wrap(StreamChunkSchema).serialize, responseDeserialize: wrap(StreamChunkSchema).deserialize },
  };
  const Client = grpc.makeGenericClientConstructor(def as unknown as grpc.ServiceDefinition, "ControlService");
  // biome-ignore lint: generic client
  const client = () => new Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()) as any;
  const meta = () => {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${TOKEN}`);
    return m;
  };
  const call = (c: ReturnType<typeof client>, tool: string, args: object, options: grpc.CallOptions = {}, metadata = meta()) =>
    new Promise<{ err: grpc.ServiceError | null; res: Message | undefined }>((resolve) => c.Execute(create(ExecuteRequestSchema, { tool, args: args as never }), metadata, options, (err: grpc.ServiceError | null, res: Message) => resolve({ err, res })));

  test("unary, streaming, status codes with ErrorInfo details, deadlines, cancellation", async () => {
    const c = client();
    const ok = await call(c, "add", { a: 2, b: 5 });
    expect(ok.err).toBeNull();
    expect(toJson(ExecuteResponseSchema, ok.res as never)).toEqual({ result: 7 });
    const chunks: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = c.Stream(create(ExecuteRequestSchema, { tool: "count", args: { n: 3 } }), meta());
      s.on("data", (chunk: Message) => chunks.push((toJson(StreamChunkSchema, chunk as never) as { data: unknown }).data));
      s.on("end", resolve);
      s.on("error", reject);
    });
    expect(chunks).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    const noAuth = await call(c, "add", { a: 1 }, {}, new grpc.Metadata());
    expect(noAuth.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    const failed = await call(c, "fail", { message: "bad" });
    expect(failed.err?.code).toBe(grpc.status.UNKNOWN);
    expect(failed.err?.details).toBe("RuntimeError: bad");
    const statusBin = failed.err!.metadata.get("grpc-status-details-bin")[0] as Buffer;
    const infoAt = statusBin.indexOf(Buffer.from("snakepit.api.v1.ErrorInfo"));
    expect(infoAt).toBeGreaterThan(0);
    // Any { type_url = 1, value = 2 }: the value follows the type URL as a length-delimited field.
    const rest = statusBin.subarray(infoAt + "snakepit.api.v1.ErrorInfo".length);
    expect(rest[0]).toBe(0x12);
    let len = 0;
    let shift = 0;
    let i = 1;
    for (; ; i++) {
      len |= (rest[i]! & 0x7f) << shift;
      shift += 7;
      if (!(rest[i]! & 0x80)) break;
    }
    const info = fromBinary(ErrorInfoSchema, rest.subarray(i + 1, i + 1 + len));
    expect(info.pythonType).toBe("RuntimeError");
    expect(info.traceback).toContain("RuntimeError: bad");
    const t0 = performance.now();
    const late = await call(c, "sleep", { ms: 5_000 }, { deadline: Date.now() + 600 });
    expect(late.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(performance.now() - t0).toBeLessThan(3_000);
    // Cancel a long stream: the worker is freed, calls go on.
    await new Promise<void>((resolve) => {
      const s = c.Stream(create(ExecuteRequestSchema, { tool: "count", args: { n: 1000, delay_ms: 20 } }), meta());
      s.once("data", () => s.cancel());
      s.on("error", (err: grpc.ServiceError) => {
        expect(err.code).toBe(grpc.status.CANCELLED);
        resolve();
      });
    });
    // Arguments nested past the limits: invalid_argument, the server stays up.
    const deepClient = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    for (const depth of [80, 100_000]) {
      const deep = await new Promise<grpc.ServiceError | null>((resolve) =>
        deepClient.makeUnaryRequest("/snakepit.api.v1.ControlService/Execute", (b: Buffer) => b, (b: Buffer) => b, Buffer.from(deepExecuteRequest("echo", depth)), meta(), (err) => resolve(err)));
      expect(deep?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(deep?.details).toContain("maxDepth");
    }
    deepClient.close();
    const after = await Promise.all([call(c, "add", { a: 1 }), call(c, "add", { a: 2 })]);
    expect(after.map((r) => r.err)).toEqual([null, null]);
    c.close();
  }, 60_000);
});

describe("gzip request bodies", () => {
  test("grpc-js with gzip compression, and connect-node (Connect, gRPC-web) with gzip", async () => {
    const gz = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(), { "grpc.default_compression_algorithm": 2 });
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${TOKEN}`);
    const bytes = toBinary(ExecuteRequestSchema, create(ExecuteRequestSchema, { tool: "echo", args: { pad: "z".repeat(50_000) } }));
    const reply = await new Promise<Buffer>((resolve, reject) =>
      gz.makeUnaryRequest("/snakepit.api.v1.ControlService/Execute", (b: Buffer) => b, (b: Buffer) => b, Buffer.from(bytes), m, (err, res) => (err ? reject(err) : resolve(res!))));
    expect((toJson(ExecuteResponseSchema, fromBinary(ExecuteResponseSchema, reply)) as { result: { pad: string } }).result.pad).toHaveLength(50_000);
    gz.close();
    for (const make of [createConnectTransport, createGrpcWebTransport]) {
      const transport = make({ baseUrl: server.url, httpVersion: "1.1", sendCompression: compressionGzip, compressMinBytes: 0, interceptors: [(next) => (req) => {
        req.header.set("authorization", `Bearer ${TOKEN}`);
        return next(req);
      }] });
      const client = createClient(ControlService, transport);
      expect((await client.execute({ tool: "add", args: { a: 20, b: 22 } })).result?.kind.value).toBe(42);
      const chunks = [];
      for await (const c of client.stream({ tool: "count", args: { n: 2 } })) chunks.push(c);
      expect(chunks).toHaveLength(2);
    }
  }, 60_000);
});

describe("Python grpcio", () => {
  test("unary, streaming, auth, deadline and Python error details", () => {
    const probe = Bun.spawnSync([PYTHON, "-c", "import grpc, google.protobuf"], { stdout: "pipe", stderr: "pipe" });
    if (probe.exitCode !== 0) {
      console.warn(`skipped: python3-grpcio / python3-protobuf not installed (${probe.stderr.toString().trim().split("\n").pop()}); scripts/optional-deps.sh installs them`);
      return;
    }
    const set = join(dir, "set.binpb");
    expect(Bun.spawnSync([BUF, "build", join(ROOT, "proto"), "-o", set], { cwd: ROOT }).exitCode).toBe(0);
    const p = Bun.spawnSync([PYTHON, join(ROOT, "test/fixtures/grpc_client.py"), set, `127.0.0.1:${grpcPort}`, TOKEN], { stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) console.error(p.stderr.toString());
    const out = JSON.parse(p.stdout.toString());
    expect(out.add).toEqual({ result: 3 });
    expect(out.stream).toEqual([{ data: { i: 0 } }, { data: { i: 1 } }, { data: { i: 2 } }]);
    expect(out.no_token.code).toBe("UNAUTHENTICATED");
    expect(out.deadline.code).toBe("DEADLINE_EXCEEDED");
    expect(out.deadline.message).toContain("deadline of");
    expect(out.python).toMatchObject({ code: "UNKNOWN", message: "RuntimeError: bad", info: { code: "python_exception", pythonType: "RuntimeError" } });
    expect(out.python.info.traceback).toContain("raise RuntimeError(message)");
  }, 60_000);
});

/** Send raw bytes on a fresh connection and collect the answer until `done(text)` or close. */
function rawHttp(port: number, head: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock: Socket = tcpConnect(port, "127.0.0.1", () => sock.write(head));
    let text = "";
    sock.on("data", (d) => {
      text += d.toString();
      if (done(text)) {
        sock.destroy();
        resolve(text);
      }
    });
    sock.on("close", () => resolve(text));
    sock.on("error", reject);
  });
}

describe("HTTP edge on a real socket", () => {
  test("a 200 MB body with Content-Length gets a JSON 413 naming the limit", async () => {
    const port = Number(new URL(server.url).port);
    const head = `POST /v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${200 * 1024 * 1024}\r\n\r\n{"tool":"echo","args":{"x":"`;
    const text = await rawHttp(port, head, (t) => t.includes("}}") || t.endsWith("}"));
    expect(text).toStartWith("HTTP/1.1 413");
    const body = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
    expect(body).toMatchObject({ code: "payload_too_large", details: { maxBodyBytes: 16 * 1024 * 1024 } });
    expect(body.message).toContain("16777216 bytes");
  });

  test("SSE headers arrive at once, not with the first event", async () => {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/v1/events?names=nothing.ever`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(performance.now() - t0).toBeLessThan(5_000);
    await res.body?.cancel();
  });
});

describe("500 unread event subscribers", () => {
  test("keep host RSS under 150 MB", async () => {
    const cfg = join(dir, "many.toml");
    writeFileSync(cfg, `adapter = "${DEMO}"\npoolSize = 2\n[server]\nport = 0\n[server.limits]\nmaxEventSubscribers = 600\nmaxStreamsPerClient = 600\nmaxStreams = 700\n`);
    const s = await startServer([BIN, "serve", "--config", cfg]);
    try {
      const port = Number(new URL(s.url).port);
      const socks: Socket[] = [];
      await Promise.all(Array.from({ length: 500 }, () => new Promise<void>((resolve, reject) => {
        const sock = tcpConnect(port, "127.0.0.1", () => {
          sock.write("GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
          sock.once("data", () => {
            sock.pause(); // never read again
            resolve();
          });
        });
        sock.on("error", reject);
        socks.push(sock);
      })));
      // Plenty of events for every subscriber: each call emits call.start and call.stop.
      for (let round = 0; round < 20; round++) {
        await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${s.url}/v1/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ tool: "echo", args: { pad: "x".repeat(2_000), i } }) }).then((r) => r.text())));
      }
      const status = readFileSync(`/proc/${s.proc.pid}/status`, "utf8");
      const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
      console.log(`host RSS with 500 unread subscribers after 1000 calls: ${rssMb.toFixed(0)} MB`);
      expect(rssMb).toBeLessThan(150);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      for (const sock of socks) sock.destroy();
    } finally {
      s.proc.kill("SIGTERM");
      await s.proc.exited;
    }
  }, 120_000);
});

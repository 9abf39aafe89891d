// Clients that never read: an HTTP client that starts /v1/stream (NDJSON) or a Connect
// server-streaming call and never reads a byte of the answer, a module-API consumer that stops
// pulling a stream, and clients that never read a huge unary answer. The host must not buffer
// without bound, must give the worker back (streams: after streamStallTimeoutMs), and must keep
// serving everyone else meanwhile. Real server process, real sockets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { Snakepit } from "../../src/mod.ts";
import { failure, fixture, PYTHON } from "../helpers.ts";
import { serveHostile } from "./serve-hostile.ts";

const STALL_MS = 1_500;
const served = serveHostile("slow-readers", `streamStallTimeoutMs = ${STALL_MS}\n`);
const inFlight = async () => ((await (await fetch(`${served.server.url}/v1/workers`)).json()) as { workers: Array<{ inFlight: number }> }).workers.reduce((n, w) => n + w.inFlight, 0);
const probe = async () => {
  const res = await fetch(`${served.server.url}/v1/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"tool":"pid","args":{}}' });
  return { status: res.status, body: (await res.json()) as { result?: number } };
};

/** Poll an asynchronous `check` (every 50 ms) until it holds or `ms` pass. */
async function eventually(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check()) return true;
    await Bun.sleep(50);
  }
  return await check();
}

/** Send `request` on a raw socket; stop reading for good once the first bytes of the answer arrive. */
function neverRead(request: Uint8Array): Promise<{ sock: Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(served.port, "127.0.0.1", () => sock.write(request));
    let head = "";
    const onData = (d: Buffer) => {
      head += d.toString("latin1", 0, Math.min(d.length, 200));
      if (!head.includes("\r\n")) return; // the status line may come in pieces
      sock.off("data", onData);
      sock.pause(); // never read again: the kernel buffers fill, then the server's writes stall
      resolve({ sock, head });
    };
    sock.on("data", onData);
    sock.on("error", reject);
  });
}

function httpRequest(path: string, type: string, body: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n`);
  return new Uint8Array([...head, ...body]);
}

function connectEnvelope(message: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(message));
  const out = new Uint8Array(5 + json.length);
  new DataView(out.buffer).setUint32(1, json.length);
  out.set(json, 5);
  return out;
}

const FLOOD = { tool: "flood", args: { n: 1_000_000, size: 65_536 } }; // 64 GB if it were all buffered

describe("streaming clients that never read", () => {
  const cases: Array<[string, () => Uint8Array]> = [
    ["/v1/stream (NDJSON)", () => httpRequest("/v1/stream", "application/json", new TextEncoder().encode(JSON.stringify(FLOOD)))],
    ["Connect server streaming", () => httpRequest("/snakepit.api.v1.ControlService/Stream", "application/connect+json", connectEnvelope(FLOOD))],
  ];
  for (const [name, request] of cases) {
    test(`${name}: bounded host memory, others served, the worker freed after streamStallTimeoutMs`, async () => {
      const before = served.rssMb();
      const { sock, head } = await neverRead(request());
      expect(head).toStartWith("HTTP/1.1 200");
      const t0 = performance.now();
      // While the stream is stalled: the other worker serves probes, host memory stays flat.
      let peak = served.rssMb();
      for (let i = 0; i < 10; i++) {
        expect((await probe()).status).toBe(200);
        peak = Math.max(peak, served.rssMb());
        await Bun.sleep(50);
      }
      // The stalled stream gives its worker back (cancelled in Python) once the stall timeout passes.
      const freed = await eventually(async () => {
        peak = Math.max(peak, served.rssMb());
        return (await inFlight()) === 0;
      }, 30_000);
      const freedAfterMs = performance.now() - t0;
      console.log(`${name}: host RSS ${before.toFixed(0)} -> peak ${peak.toFixed(0)} MB while stalled; worker freed after ${freedAfterMs.toFixed(0)} ms (stall timeout ${STALL_MS} ms)`);
      expect(freed).toBe(true);
      expect(freedAfterMs).toBeGreaterThanOrEqual(STALL_MS - 100);
      expect(peak - before).toBeLessThan(150);
      // Both workers serve again.
      const pids = new Set<number>();
      for (let i = 0; i < 20; i++) pids.add((await probe()).body.result!);
      expect(pids.size).toBe(2);
      sock.destroy();
    }, 60_000);
  }

  test("more never-reading streams than workers: each is freed in turn, probes still answered", async () => {
    const stalled = await Promise.all(Array.from({ length: 4 }, () => neverRead(httpRequest("/v1/stream", "application/json", new TextEncoder().encode(JSON.stringify(FLOOD))))
      .catch((err: unknown) => ({ sock: undefined, head: String(err) }))));
    // Two got workers at once; the others waited in the queue and got them once the first stalled out.
    const statuses = stalled.map((s) => s.head.slice(0, 12));
    expect(statuses.every((s) => s === "HTTP/1.1 200")).toBe(true);
    const probed = await probe();
    expect(probed.status).toBe(200);
    expect(await eventually(async () => (await inFlight()) === 0, 30_000)).toBe(true);
    for (const s of stalled) s.sock?.destroy();
  }, 60_000);
});

describe("huge unary answers nobody reads", () => {
  test("the worker is free once the answer is made; memory comes back when the clients go", async () => {
    const before = served.rssMb();
    const readers = await Promise.all([1, 2].map(() => neverRead(httpRequest("/v1/execute", "application/json", new TextEncoder().encode('{"tool":"big","args":{"mb":32}}')))));
    for (const r of readers) expect(r.head.slice(0, 120)).toStartWith("HTTP/1.1 200");
    expect(await inFlight()).toBe(0);
    expect((await probe()).status).toBe(200);
    const held = served.rssMb();
    for (const r of readers) r.sock.destroy();
    const back = await eventually(() => served.rssMb() - before < 100, 20_000);
    console.log(`two unread 32 MB answers: host RSS ${before.toFixed(0)} -> ${held.toFixed(0)} MB while held, ${served.rssMb().toFixed(0)} MB after the clients left`);
    expect(back).toBe(true);
  }, 60_000);
});

describe("module API consumers", () => {
  let pit: Snakepit;
  beforeAll(async () => {
    pit = await Snakepit.start({ adapter: fixture("hostile.py"), poolSize: 1, python: PYTHON, streamStallTimeoutMs: STALL_MS });
  });
  afterAll(() => pit.close(), 30_000);

  test("a stream that is never iterated takes no worker and no slot", async () => {
    const chunks = pit.stream("flood", { n: 1_000_000, size: 65_536 });
    await Bun.sleep(200);
    expect(pit.stats()).toMatchObject({ inFlight: 0, queued: 0 });
    expect(await pit.execute("echo", { value: 1 })).toBe(1);
    await chunks.return(undefined);
  });

  test("a consumer that stops pulling: its worker is freed after the stall timeout and its next pull says why", async () => {
    const chunks = pit.stream("flood", { n: 1_000_000, size: 65_536 });
    expect((await chunks.next()).done).toBe(false);
    expect(pit.stats().inFlight).toBe(1);
    const t0 = performance.now();
    // The pool's only worker: a call queued behind the stalled stream runs once the stream is cut.
    expect(await pit.execute("echo", { value: "after" }, { timeoutMs: 30_000 })).toBe("after");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(STALL_MS - 100);
    const err = await failure(chunks.next());
    expect(err).toMatchObject({ code: "deadline_exceeded", details: { tool: "flood", stallMs: STALL_MS } });
    expect(err.message).toContain(`read nothing for ${STALL_MS} ms (streamStallTimeoutMs)`);
    expect(pit.stats().inFlight).toBe(0);
  }, 60_000);
});

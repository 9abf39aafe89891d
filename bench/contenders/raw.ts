/**
 * The floor: a tight newline-JSON pipe to bench/baselines/raw_echo.py. Bytes scanned for
 * newlines (no string concatenation), the lines of one read decoded as one string, one write
 * per microtask, bulk as raw length-prefixed bytes. No framing, validation, errors,
 * cancellation or supervision.
 */

import { pin } from "../placement.ts";

const script = new URL("../baselines/raw_echo.py", import.meta.url).pathname;
const encoder = new TextEncoder();

/** A reply line; a batched stream's lines are arrays of ints (whose `id` is undefined too). */
type Line = { id?: number; result?: number; i?: number; done?: boolean };

export class RawPipe {
  readonly proc;
  readonly #waiters = new Map<number, (line: Line) => void>();
  #onLine: ((line: Line) => void) | undefined;
  #bulk: { want: number; out: Uint8Array; size: number; done: (b: Uint8Array) => void } | undefined;
  #pending: Uint8Array[] = [];
  #id = 0;
  readonly #text = new TextDecoder();

  constructor(python: string, cpuList?: string) {
    this.proc = Bun.spawn([python, script], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    if (cpuList) pin(this.proc.pid, cpuList);
    void this.#read();
  }

  async #read(): Promise<void> {
    const reader = this.proc.stdout.getReader();
    let rest: Uint8Array | undefined;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      let buf = value;
      if (rest) {
        buf = new Uint8Array(rest.length + value.length);
        buf.set(rest);
        buf.set(value, rest.length);
        rest = undefined;
      }
      let at = 0;
      // The whole lines of one read are decoded as one string; offsets into it are byte offsets
      // while it is ASCII (every line here is), else each line is decoded on its own.
      let text = "";
      let textAt = -1;
      while (at < buf.length) {
        if (this.#bulk) {
          at = this.#takeBulk(buf, at);
          textAt = -1;
          continue;
        }
        const nl = buf.indexOf(10, at);
        if (nl < 0) break;
        if (textAt < 0) {
          const end = buf.lastIndexOf(10) + 1;
          text = this.#text.decode(buf.subarray(at, end));
          textAt = text.length === end - at ? at : -2;
        }
        const raw = textAt >= 0 ? text.slice(at - textAt, nl - textAt) : this.#text.decode(buf.subarray(at, nl));
        const line = JSON.parse(raw) as Line;
        at = nl + 1;
        if (line.id === undefined) this.#onLine!(line);
        else {
          const w = this.#waiters.get(line.id)!;
          this.#waiters.delete(line.id);
          w(line);
        }
      }
      if (at < buf.length) rest = buf.slice(at);
    }
  }

  #takeBulk(buf: Uint8Array, at: number): number {
    const b = this.#bulk!;
    if (b.want < 0) {
      if (buf.length - at < 4) throw new Error("raw pipe: split length header (not expected from one write)");
      b.want = new DataView(buf.buffer, buf.byteOffset + at, 4).getUint32(0);
      b.out = new Uint8Array(b.want); // one buffer, filled in place: one copy, like snakepit's decoder
      at += 4;
    }
    const take = Math.min(b.want - b.size, buf.length - at);
    b.out.set(buf.subarray(at, at + take), b.size);
    b.size += take;
    if (b.size === b.want) {
      this.#bulk = undefined;
      b.done(b.out);
    }
    return at + take;
  }

  #send(bytes: Uint8Array): void {
    if (this.#pending.length === 0) {
      queueMicrotask(() => {
        const parts = this.#pending;
        this.#pending = [];
        for (const p of parts) this.proc.stdin.write(p);
        this.proc.stdin.flush();
      });
    }
    this.#pending.push(bytes);
  }

  #request(body: Record<string, unknown>, extra?: Uint8Array): Promise<Line> {
    const id = this.#id++;
    return new Promise((resolve) => {
      this.#waiters.set(id, resolve);
      this.#send(encoder.encode(JSON.stringify({ id, ...body }) + "\n"));
      if (extra) this.#send(extra);
    });
  }

  async call(a: number): Promise<number> {
    return (await this.#request({ a, b: 1 })).result!;
  }

  /** n chunks; resolves with the time to the first chunk (ms) and the count. */
  async stream(n: number, flush: boolean): Promise<{ firstMs: number; count: number }> {
    const t0 = performance.now();
    let firstMs = 0;
    let count = 0;
    this.#onLine = (line) => {
      if (count++ === 0) firstMs = performance.now() - t0;
      if (line.i !== count - 1) throw new Error("raw stream out of order");
    };
    await this.#request({ stream: n, flush });
    return { firstMs, count };
  }

  /** n chunks in arrays of up to `batch`, one write each (as snakepit's worker batches a fast stream). */
  async streamBatched(n: number, batch: number): Promise<{ firstMs: number; count: number }> {
    const t0 = performance.now();
    let firstMs = 0;
    let count = 0;
    this.#onLine = (line) => {
      if (count === 0) firstMs = performance.now() - t0;
      for (const i of line as unknown as number[]) {
        if (i !== count++) throw new Error("raw batched stream out of order");
      }
    };
    await this.#request({ stream: n, batch });
    return { firstMs, count };
  }

  /** Echo `data` (through numpy as float32 when f32). */
  bulk(data: Uint8Array, f32: boolean): Promise<Uint8Array> {
    return new Promise((resolve) => {
      this.#bulk = { want: -1, out: new Uint8Array(0), size: 0, done: resolve };
      this.#send(encoder.encode(JSON.stringify({ id: this.#id++, bulk: data.length, f32 }) + "\n"));
      this.#send(data);
    });
  }

  async close(): Promise<void> {
    this.proc.kill();
    await this.proc.exited;
  }
}

/** Start `n` raw processes and make one call on each; ms until all answered. */
export async function rawStart(python: string, n: number): Promise<number> {
  const t0 = performance.now();
  const pipes = Array.from({ length: n }, () => new RawPipe(python));
  await Promise.all(pipes.map((p) => p.call(1)));
  const ms = performance.now() - t0;
  await Promise.all(pipes.map((p) => p.close()));
  return ms;
}

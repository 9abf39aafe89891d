/**
 * Preloaded workers: one template Python process per pool imports the named modules once
 * (python/snakepit_bridge/forkserver.py) and forks each worker and each replacement from itself.
 * A forked worker is handed to `Worker` as an ordinary `ChildProcess`: its own process group,
 * private pipes to this host (FIFOs in a 0700 directory, unlinked once both ends are open), its
 * own environment, the same command line (the registry finds it by run id), the same lifeline.
 * Bun on Linux only (FIFOs opened read-write so opening never blocks the event loop).
 */

import { closeSync, constants, openSync, readFileSync } from "node:fs";
import { SnakepitError } from "../errors.ts";
import { type ChildProcess, type ExitStatus, spawnChild, type SpawnOptions } from "../runtime/process.ts";

/** What a pool preloads (config `preload`). */
export interface PreloadOptions {
  /** Modules the template imports once. */
  modules: string[];
  /** Also import the adapter's module in the template and call its `preload()` hook, if any. */
  adapter?: boolean;
}

interface Pending {
  resolve(child: ChildProcess): void;
  reject(err: Error): void;
  env: Record<string, string>;
}

const G = globalThis as unknown as { Bun: { file(fd: number): { stream(): ReadableStream<Uint8Array>; writer(): { write(b: Uint8Array): number; flush(): unknown; end(): unknown } } } };
const SIGNALS: Record<number, string> = { 1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM" };

/** A stream over `fd` that can be ended from outside (the FIFO never reports end-of-file to us). */
function endable(fd: number): { stream: ReadableStream<Uint8Array>; end(): void } {
  const inner = G.Bun.file(fd).stream().getReader();
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => void (ctl = c),
    async pull(c) {
      const r = await inner.read().catch(() => ({ done: true as const, value: undefined }));
      if (!open) return;
      if (r.done) {
        open = false;
        c.close();
      } else c.enqueue(r.value);
    },
  });
  return {
    stream,
    end() {
      if (!open) return;
      open = false;
      ctl.close();
      void inner.cancel().catch(() => {}).finally(() => closeSync(fd));
    },
  };
}

export class ForkServer {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  readonly #exits = new Map<number, (s: ExitStatus) => void>();
  #nextId = 1;
  #closed = false;

  #stderrTail = "";

  private constructor(child: ChildProcess) {
    this.#child = child;
    // Drain the template's log (a full pipe would stop it); keep the end for error messages.
    void (async () => {
      const text = new TextDecoder();
      const reader = child.stderr.getReader();
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (done) return;
        this.#stderrTail = (this.#stderrTail + text.decode(value, { stream: true })).slice(-2000);
      }
    })();
  }

  /** Start the template; resolves once it has preloaded and checked that forking is safe. */
  static async start(python: string, options: PreloadOptions & { adapterSpec: string; runId: string; instance?: string; spawn: SpawnOptions }): Promise<ForkServer> {
    const cmd = [python, "-m", "snakepit_bridge.forkserver", "--run-id", options.runId];
    if (options.instance) cmd.push("--instance", options.instance);
    for (const m of options.modules) cmd.push("--preload", m);
    if (options.adapter) cmd.push("--adapter", options.adapterSpec);
    const server = new ForkServer(spawnChild(cmd, options.spawn));
    const first = await server.#readLoop();
    if (!("ready" in first)) {
      server.#child.kill("SIGKILL");
      await server.#child.exited;
      const log = server.#stderrTail.trim().split("\n").slice(-5).join("\n");
      throw new SnakepitError("worker_spawn_failed", `Preload template for ${options.adapterSpec}: ${String(first.error ?? "exited before it was ready")}${log ? `\n${log}` : ""}`, { details: { modules: options.modules } });
    }
    return server;
  }

  /** Read control lines; resolves with the first one, handles the rest. */
  #readLoop(): Promise<Record<string, unknown>> {
    return new Promise((resolveFirst) => {
      let first = true;
      const text = new TextDecoder();
      let buf = "";
      const handle = (msg: Record<string, unknown>) => {
        if (first) {
          first = false;
          resolveFirst(msg);
        } else if ("forked" in msg) this.#onForked(msg);
        else if ("exited" in msg) {
          const sig = msg.signal as number | null;
          this.#exits.get(msg.exited as number)?.({ exitCode: msg.code as number | null, signal: sig ? SIGNALS[sig] ?? `SIG${sig}` : null });
          this.#exits.delete(msg.exited as number);
        }
      };
      void (async () => {
        const reader = this.#child.stdout.getReader();
        for (;;) {
          const { done, value } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
          if (done) break;
          buf += text.decode(value, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            try {
              handle(JSON.parse(line) as Record<string, unknown>);
            } catch {
              // A garbled line costs at most the fork it concerned (its start times out), never the loop.
            }
          }
        }
        if (first) resolveFirst({ error: "the template exited before it was ready" });
        this.#closed = true;
        for (const p of this.#pending.values()) p.reject(new Error("the preload template exited"));
        this.#watchOrphans();
      })();
    });
  }

  /** The template is gone, so nobody reports our workers' exits: watch /proc for them. */
  #watchOrphans(): void {
    const timer = setInterval(() => {
      for (const [pid, resolve] of this.#exits) {
        let state = "X";
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
          state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
        } catch {
          // Gone.
        }
        if (state === "Z" || state === "X") {
          this.#exits.delete(pid);
          resolve({ exitCode: null, signal: null });
        }
      }
      if (this.#exits.size === 0) clearInterval(timer);
    }, 100);
  }

  #onForked(msg: Record<string, unknown>): void {
    const p = this.#pending.get(msg.forked as number);
    if (!p) return;
    this.#pending.delete(msg.forked as number);
    const pid = msg.pid as number;
    const dir = msg.dir as string;
    // Read-write opens never block; the child's own opens complete once these exist.
    const fds: number[] = [];
    try {
      for (const name of ["in", "out", "err"]) fds.push(openSync(`${dir}/${name}`, constants.O_RDWR));
    } catch (error) {
      // Out of descriptors, say: this worker fails to start; the template and other forks go on.
      for (const fd of fds) closeSync(fd);
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      p.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const inFd = fds[0]!;
    const out = endable(fds[1]!);
    const err = endable(fds[2]!);
    const exited = new Promise<ExitStatus>((resolve) => this.#exits.set(pid, resolve)).then(async (status) => {
      await new Promise((r) => setTimeout(r, 20)); // let the last output drain
      out.end();
      err.end();
      return status;
    });
    p.resolve(forkedChild(pid, inFd, out.stream, err.stream, exited));
  }

  /** Fork a worker running `cmd` (a `python -m snakepit_bridge ...` command line). */
  spawn(cmd: string[], options: SpawnOptions): Promise<ChildProcess> {
    if (this.#closed) return Promise.reject(new Error("the preload template has exited"));
    const at = cmd.indexOf("snakepit_bridge");
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, env: options.env });
      this.#child.write(new TextEncoder().encode(JSON.stringify({ id, argv: cmd.slice(at + 1), env: options.env, cwd: options.cwd ?? "" }) + "\n"));
    });
  }

  /** The template's pid (a process of the run, like its workers). */
  get pid(): number {
    return this.#child.pid;
  }

  /** True once the template has exited. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Stop the template (its workers are stopped by their own pools). */
  async close(): Promise<void> {
    this.#child.closeStdin();
    await this.#child.exited;
  }
}

function forkedChild(pid: number, inFd: number, stdout: ReadableStream<Uint8Array>, stderr: ReadableStream<Uint8Array>, exited: Promise<ExitStatus>): ChildProcess {
  const sink = G.Bun.file(inFd).writer();
  let open = true;
  let pending: Uint8Array[] = [];
  const flush = () => {
    const parts = pending;
    pending = [];
    if (!open) return;
    // One buffer, one sink write: each FileSink write costs a syscall (epoll_ctl) of its own.
    sink.write(parts.length === 1 ? parts[0]! : concat(parts));
    sink.flush();
  };
  const closeStdin = () => {
    if (!open) return;
    flush();
    open = false;
    try {
      sink.end(); // the worker reads end-of-input: its lifeline
      closeSync(inFd);
    } catch {
      // The sink closed it already.
    }
  };
  void exited.then(closeStdin);
  return {
    pid,
    write(bytes) {
      if (!open) return;
      if (pending.length === 0) setImmediate(flush);
      pending.push(bytes);
    },
    closeStdin,
    stdout,
    stderr,
    exited,
    kill(signal) {
      try {
        process.kill(-pid, signal);
      } catch {
        try {
          process.kill(pid, signal); // before its setsid(), the child leads no group yet
        } catch {
          // Gone.
        }
      }
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

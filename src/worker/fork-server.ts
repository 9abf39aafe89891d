/**
 * Preloaded workers: one template Python process per pool imports the named modules once
 * (python/snakepit_bridge/forkserver.py) and forks each worker and each replacement from itself.
 * A forked worker is handed to `Worker` as an ordinary `ChildProcess`: its own process group,
 * private pipes to this host (FIFOs in a 0700 directory, unlinked once both ends are open), its
 * own environment, its own name and a command line that keeps the run id (the registry finds it by
 * it), the same lifeline, and the same exit status: the template reaps it and reports its code or
 * signal, and after the template's death its keeper (the process spawned here, which split the
 * template off itself: forkkeeper.py) does; forked-child.ts covers a worker that outlives both.
 * Bun on Linux only.
 */

import { closeSync, constants, openSync, readFileSync } from "node:fs";
import { SnakepitError } from "../errors.ts";
import { type ChildProcess, type ExitStatus, spawnChild, type SpawnOptions } from "../runtime/process.ts";
import { endable, forkedChild, selfReported, signalName } from "./forked-child.ts";

const G = globalThis as unknown as { Bun: { file(fd: number): { writer(): { write(b: Uint8Array): number; flush(): unknown; end(): unknown } } } };

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

export class ForkServer {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  /** Live forks: how to settle each one's exit, and its exit-status FIFO (read if the template dies first). */
  readonly #exits = new Map<number, { resolve: (s: ExitStatus) => void; statusFd: number }>();
  #nextId = 1;
  #closed = false;
  #watching = false;
  /** The template's pid (the spawned process is its keeper: python/snakepit_bridge/forkkeeper.py). */
  #templatePid: number | undefined;
  #keeperAlive = true;
  #controlFd: number | undefined;
  #control: { write(b: Uint8Array): number; flush(): unknown; end(): unknown } | undefined;

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
  static async start(python: string, options: PreloadOptions & { adapterSpec: string; runId: string; pool: string; instance?: string; spawn: SpawnOptions }): Promise<ForkServer> {
    const cmd = [python, "-m", "snakepit_bridge.forkserver", "--run-id", options.runId, "--pool", options.pool];
    if (options.instance) cmd.push("--instance", options.instance);
    for (const m of options.modules) cmd.push("--preload", m);
    if (options.adapter) cmd.push("--adapter", options.adapterSpec);
    const server = new ForkServer(spawnChild(cmd, options.spawn));
    const first = await server.#readLoop();
    if (typeof first.ready === "number" && typeof first.ctl === "string") {
      server.#templatePid = first.ready;
      // Fork requests go to the template through its control FIFO (read-write: never blocks; the
      // keeper's stdin is no use, as the runtime closes it when the keeper exits).
      try {
        server.#controlFd = openSync(first.ctl, constants.O_RDWR);
        server.#control = G.Bun.file(server.#controlFd).writer();
      } catch (error) {
        server.#child.kill("SIGKILL");
        throw new SnakepitError("worker_spawn_failed", `Preload template for ${options.adapterSpec}: cannot open its control FIFO: ${(error as Error).message}`);
      }
    } else {
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
          const signal = signalName(msg.signame, msg.signal);
          this.#settle(msg.exited as number, { exitCode: signal ? null : (msg.code as number | null), signal });
        } else if ("template_exited" in msg) this.#templateGone(); // its keeper reports its workers' exits from now on
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
        this.#keeperAlive = false;
        this.#templateGone();
      })();
    });
  }

  /** No more forks from this template; its keeper (while it lives) or /proc tell how workers end. */
  #templateGone(): void {
    if (!this.#closed) {
      this.#closed = true;
      for (const p of this.#pending.values()) p.reject(new Error("the preload template exited"));
      this.#pending.clear();
    }
    this.#watchOrphans();
  }

  #settle(pid: number, status: ExitStatus): void {
    const entry = this.#exits.get(pid);
    if (!entry) return;
    this.#exits.delete(pid);
    closeSync(entry.statusFd);
    entry.resolve(status);
  }

  /**
   * The template is gone: its keeper reaps and reports our workers now. Should the keeper be gone
   * too (or miss one), nobody can wait for them: watch /proc for their ends, and settle a worker
   * seen gone twice in a row (the keeper's report, if one comes, arrives well before that).
   */
  #watchOrphans(): void {
    if (this.#watching) return;
    this.#watching = true;
    const gone = new Set<number>();
    const timer = setInterval(() => {
      for (const [pid, entry] of this.#exits) {
        let state = "X";
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
          state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
        } catch {
          // Gone.
        }
        if (state !== "Z" && state !== "X") continue;
        if (gone.has(pid) || !this.#keeperAlive) this.#settle(pid, selfReported(entry.statusFd, this.pid));
        else gone.add(pid);
      }
      if (this.#exits.size === 0) {
        clearInterval(timer);
        this.#watching = false;
      }
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
      for (const name of ["in", "out", "err", "st"]) fds.push(openSync(`${dir}/${name}`, constants.O_RDWR | (name === "st" ? constants.O_NONBLOCK : 0)));
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
    const exited = new Promise<ExitStatus>((resolve) => this.#exits.set(pid, { resolve, statusFd: fds[3]! })).then(async (status) => {
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
      this.#control!.write(new TextEncoder().encode(JSON.stringify({ id, argv: cmd.slice(at + 1), env: options.env, cwd: options.cwd ?? "" }) + "\n"));
      this.#control!.flush();
    });
  }

  /** The template's pid (a process of the run, like its workers). */
  get pid(): number {
    return this.#templatePid ?? this.#child.pid;
  }

  /** True once the template has exited. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Stop the template (its workers are stopped by their own pools). */
  async close(): Promise<void> {
    try {
      this.#control?.end(); // end-of-input: the template winds down and exits, then its keeper
      if (this.#controlFd !== undefined) closeSync(this.#controlFd);
    } catch {
      // The sink closed it already.
    }
    this.#control = undefined;
    this.#controlFd = undefined;
    this.#child.closeStdin();
    await this.#child.exited;
  }
}

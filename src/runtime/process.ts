/**
 * The one module that knows which runtime it runs on (Bun or Deno), the way Hono keeps runtimes
 * in `adapter/`: spawning a child with pipes, signalling its process group, and a few host facts.
 */

/** How a child process ended. */
export interface ExitStatus {
  exitCode: number | null;
  signal: string | null;
  /** Set when neither could be known, saying why (a forked worker that outlived its template). */
  statusNote?: string | undefined;
}

/** A child with piped stdio, in its own process group. */
export interface ChildProcess {
  readonly pid: number;
  /** Queue bytes for the child's stdin; never blocks. */
  write(bytes: Uint8Array): void;
  closeStdin(): void;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly exited: Promise<ExitStatus>;
  /** Signal the child's whole process group (it is spawned detached, as group leader). */
  kill(signal: "SIGTERM" | "SIGKILL" | "SIGSTOP" | "SIGCONT" | "SIGINT"): void;
}

/** Options for `spawnChild`. */
export interface SpawnOptions {
  env: Record<string, string>;
  cwd?: string | undefined;
}

/** Which runtime is running us. */
export const runtimeName: "bun" | "deno" | "node" =
  "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";

// deno-lint-ignore no-explicit-any
const G = globalThis as any;

function killGroup(pid: number, signal: string): void {
  for (const target of [-pid, pid]) {
    try {
      if (runtimeName === "deno") G.Deno.kill(target, signal);
      else process.kill(target, signal);
    } catch {
      // Already gone, or the group does not exist yet.
    }
  }
}

function spawnBun(cmd: string[], options: SpawnOptions): ChildProcess {
  const proc = G.Bun.spawn(cmd, {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: options.env,
    cwd: options.cwd,
    detached: true,
  });
  let open = true;
  // Packets written in one turn of the event loop go out as one buffer in one write (flushed
  // from setImmediate, after every microtask): each FileSink flush is a syscall that wakes Python.
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = () => {
    const parts = pending;
    pending = [];
    let bytes: Uint8Array;
    if (parts.length === 1) {
      bytes = parts[0]!;
    } else {
      bytes = new Uint8Array(pendingBytes);
      let at = 0;
      for (const p of parts) {
        bytes.set(p, at);
        at += p.length;
      }
    }
    pendingBytes = 0;
    if (!open) return;
    try {
      proc.stdin.write(bytes);
      proc.stdin.flush();
    } catch {
      open = false;
    }
  };
  const exited: Promise<ExitStatus> = proc.exited.then(() => ({
    exitCode: proc.signalCode ? null : proc.exitCode,
    signal: proc.signalCode ?? null,
  }));
  return {
    pid: proc.pid,
    write(bytes) {
      if (!open) return;
      if (pending.length === 0) setImmediate(flush);
      pending.push(bytes);
      pendingBytes += bytes.length;
    },
    closeStdin() {
      if (!open) return;
      if (pending.length) flush();
      open = false;
      try {
        proc.stdin.end();
      } catch {
        // The pipe is already closed.
      }
    },
    stdout: proc.stdout,
    stderr: proc.stderr,
    exited,
    kill: (signal) => killGroup(proc.pid, signal),
  };
}

function spawnDeno(cmd: string[], options: SpawnOptions): ChildProcess {
  const [program, ...args] = cmd;
  const child = new G.Deno.Command(program, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
    clearEnv: true,
    cwd: options.cwd,
    detached: true,
  }).spawn();
  const writer = child.stdin.getWriter();
  let open = true;
  const exited: Promise<ExitStatus> = child.status.then((s: { code: number; signal: string | null }) => ({
    exitCode: s.signal ? null : s.code,
    signal: s.signal ?? null,
  }));
  return {
    pid: child.pid,
    write(bytes) {
      if (!open) return;
      writer.write(bytes).catch(() => {
        open = false;
      });
    },
    closeStdin() {
      if (!open) return;
      open = false;
      writer.close().catch(() => {});
    },
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    kill: (signal) => killGroup(child.pid, signal),
  };
}

/** Spawn `cmd` with piped stdio in a new process group. */
export function spawnChild(cmd: string[], options: SpawnOptions): ChildProcess {
  if (runtimeName === "bun") return spawnBun(cmd, options);
  if (runtimeName === "deno") return spawnDeno(cmd, options);
  throw new Error("snakepit runs on Bun or Deno; Node.js is not supported");
}

/** The environment of this process. */
export function hostEnv(): Record<string, string> {
  if (runtimeName === "deno") return G.Deno.env.toObject();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
  return out;
}

/** Read a whole text file, or undefined when it cannot be read. */
export async function readTextFile(path: string): Promise<string | undefined> {
  try {
    if (runtimeName === "deno") return await G.Deno.readTextFile(path);
    return await G.Bun.file(path).text();
  } catch {
    return undefined;
  }
}

/** Run a command to completion and capture its output (setup and diagnostics, not hot paths). */
export async function runCommand(cmd: string[], options: Partial<SpawnOptions> = {}): Promise<ExitStatus & { stdout: string; stderr: string }> {
  const child = spawnChild(cmd, { env: options.env ?? hostEnv(), cwd: options.cwd });
  child.closeStdin();
  const [stdout, stderr, status] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { ...status, stdout, stderr };
}

/** A running HTTP server. */
export interface HttpServer {
  readonly port: number;
  readonly hostname: string;
  /** Stop accepting; resolves when in-flight requests are done (or at once with `force`). */
  stop(force?: boolean): Promise<void>;
}

/** Serve `fetch` on hostname:port (port 0 picks a free one). */
export function serveHttp(fetch: (req: Request) => Response | Promise<Response>, options: { hostname: string; port: number; maxRequestBodySize?: number }): HttpServer {
  if (runtimeName === "bun") {
    // idleTimeout 0: long streams may be quiet for a while; Python deadlines bound them instead.
    // maxRequestBodySize: above the app's own limit, so oversized bodies get the app's JSON 413
    // (Bun's own refusal is a bare 413 sent before the app runs).
    const server = G.Bun.serve({ fetch, hostname: options.hostname, port: options.port, idleTimeout: 0, maxRequestBodySize: options.maxRequestBodySize ?? 2 ** 40 });
    return {
      port: server.port,
      hostname: server.hostname,
      stop: async (force = false) => {
        await server.stop(force);
      },
    };
  }
  if (runtimeName === "deno") {
    const ac = new AbortController();
    const server = G.Deno.serve({ hostname: options.hostname, port: options.port, signal: ac.signal, onListen() {} }, fetch);
    return {
      port: server.addr.port,
      hostname: server.addr.hostname,
      stop: async (force = false) => {
        if (force) ac.abort();
        else await server.shutdown();
      },
    };
  }
  throw new Error("snakepit serves HTTP on Bun or Deno");
}

/** Files embedded in a `bun build --compile` binary (empty elsewhere). */
export function embeddedFiles(): Array<{ name: string; bytes(): Promise<Uint8Array> }> {
  if (runtimeName !== "bun") return [];
  return (G.Bun.embeddedFiles as Array<Blob & { name: string }>).map((f) => ({
    name: f.name,
    bytes: async () => new Uint8Array(await f.arrayBuffer()),
  }));
}

/** Subscribe to a process signal; returns the unsubscribe function. */
export function onSignal(signal: "SIGINT" | "SIGTERM", handler: () => void): () => void {
  if (runtimeName === "deno") {
    G.Deno.addSignalListener(signal, handler);
    return () => G.Deno.removeSignalListener(signal, handler);
  }
  process.on(signal, handler);
  return () => process.off(signal, handler);
}

/** True when stdout is a terminal. */
export function isTerminal(): boolean {
  if (runtimeName === "deno") return G.Deno.stdout.isTerminal();
  return Boolean(process.stdout.isTTY);
}

/**
 * A worker forked by the preload template, seen through the `ChildProcess` seam: its stdio are
 * FIFOs the host opened read-write (so opening never blocks the event loop), and its exit status
 * comes from the template or, once the template is dead, its keeper: they alone can wait for it. If
 * both are gone, the worker's own report (a fourth FIFO: it writes its exit code on every
 * Python-level way out) stands in; a death by signal is then unknown, and the status says so
 * (`statusNote`).
 */

import { closeSync, readSync } from "node:fs";
import { constants as os } from "node:os";
import type { ChildProcess, ExitStatus } from "../runtime/process.ts";

const G = globalThis as unknown as { Bun: { file(fd: number): { stream(): ReadableStream<Uint8Array>; writer(): { write(b: Uint8Array): number; flush(): unknown; end(): unknown } } } };
const BY_NUMBER = new Map(Object.entries(os.signals).map(([name, n]) => [n, name]));

/** A signal's name from the template's report (its name, else its number). */
export function signalName(name: unknown, num: unknown): string | null {
  if (typeof name === "string" && /^SIG[A-Z0-9+]+$/.test(name)) return name;
  if (typeof num !== "number" || num <= 0) return null;
  return BY_NUMBER.get(num) ?? `SIG${num}`;
}

/**
 * The status of a worker that exited after the template: the code it reported on the status FIFO
 * `fd` (non-blocking), else unknown, with the reason.
 */
export function selfReported(fd: number, templatePid: number): ExitStatus {
  let text = "";
  const buf = new Uint8Array(256);
  try {
    for (let n; (n = readSync(fd, buf)) > 0;) text += new TextDecoder().decode(buf.subarray(0, n));
  } catch {
    // EAGAIN: nothing (more) written.
  }
  const last = [...text.matchAll(/exit (\d+)\n/g)].at(-1);
  if (last) return { exitCode: Number(last[1]), signal: null };
  return {
    exitCode: null,
    signal: null,
    statusNote: `exit status unknown: the worker outlived its preload template (pid ${templatePid}) and that template's keeper, the only processes that could wait for it, and did not exit through Python, so a signal most likely ended it (SIGKILL, SIGSEGV, an out-of-memory kill)`,
  };
}

/** A stream over `fd` that can be ended from outside (the FIFO never reports end-of-file to us). */
export function endable(fd: number): { stream: ReadableStream<Uint8Array>; end(): void } {
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

/** The `ChildProcess` of a forked worker. */
export function forkedChild(pid: number, inFd: number, stdout: ReadableStream<Uint8Array>, stderr: ReadableStream<Uint8Array>, exited: Promise<ExitStatus>): ChildProcess {
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

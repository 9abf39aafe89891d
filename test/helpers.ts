/** Test helpers: fixtures, the interpreter, and process checks through /proc. */

import { existsSync, readdirSync, readFileSync } from "node:fs";

/** The interpreter tests use: $SNAKEPIT_TEST_PYTHON, else /usr/bin/python3, else python3. */
export const PYTHON = process.env.SNAKEPIT_TEST_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");

/** Absolute path of a fixture adapter (optionally with `:Class`). */
export function fixture(name: string): string {
  const [file, cls] = name.split(":");
  const path = new URL(`./fixtures/${file}`, import.meta.url).pathname;
  return cls ? `${path}:${cls}` : path;
}

/** The example adapter shipped in the repo. */
export const DEMO = new URL("../examples/adapters/demo.py:DemoAdapter", import.meta.url).pathname;

function cmdline(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

function isZombie(pid: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/**
 * The processes a live run owns, sorted: its workers and, where they are forked, each pool's
 * template (`templatePid` in the pool's stats). Compare with `pidsOfRun(runId).sort(byNumber)`.
 */
export function processesOf(pit: { listWorkers(): Array<{ pid: number }>; stats(): { pools: Record<string, { templatePid?: number }> } }): number[] {
  const templates = Object.values(pit.stats().pools).flatMap((p) => (p.templatePid ? [p.templatePid] : []));
  return [...pit.listWorkers().map((w) => w.pid), ...templates].sort(byNumber);
}

/** Numeric sort order. */
export function byNumber(a: number, b: number): number {
  return a - b;
}

/** Live (non-zombie) processes whose command line carries `--run-id <runId>`. */
export function pidsOfRun(runId: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const args = cmdline(entry);
    const at = args.indexOf("--run-id");
    if (at >= 0 && args[at + 1] === runId && !isZombie(entry)) out.push(Number(entry));
  }
  return out;
}

/** True when `pid` is a live, non-zombie process. */
export function isAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !isZombie(String(pid));
}

/** Poll `check` until it holds or `timeoutMs` passes (for effects outside our control: process exits). */
export async function waitUntil(check: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (check()) return true;
    await Bun.sleep(stepMs);
  }
  return check();
}

/** The rejection of `promise` (typed loosely for assertions); fails if it resolves. */
// deno-lint-ignore no-explicit-any
export async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

/** The repo root. */
export const ROOT = new URL("..", import.meta.url).pathname;

/** Run the CLI from source (`bun src/cli/main.ts ...`) to completion. */
export async function cli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, `${ROOT}src/cli/main.ts`, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, SNAKEPIT_PYTHON: PYTHON, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** A long-running server process, with the URL it printed. */
export interface Server {
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
  output(): string;
}

/** Start `cmd` (a `serve` command line) and wait for its "listening on URL" line. */
export async function startServer(cmd: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Server> {
  const proc = Bun.spawn(cmd, { cwd, env: { ...process.env, SNAKEPIT_PYTHON: PYTHON, ...env }, stdout: "pipe", stderr: "pipe" });
  let out = "";
  const decoder = new TextDecoder();
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const errText = new Response(proc.stderr as ReadableStream<Uint8Array>).text();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`server exited before listening:\n${out}\n${await errText}`);
    out += decoder.decode(value);
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) {
      void (async () => {
        for (;;) {
          const r = await reader.read().catch(() => ({ done: true, value: undefined }));
          if (r.done) return;
          out += decoder.decode(r.value);
        }
      })();
      return { url: m[1]!, proc, output: () => out };
    }
  }
}

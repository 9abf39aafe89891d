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

/** Running a vendor tool (nvidia-smi, rocm-smi, sysctl) found on PATH, with a deadline. */

import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { spawnChild } from "../runtime/process.ts";

/** A tool's outcome: its output, or why there is none. */
export type ToolResult =
  | { ok: true; stdout: string }
  | { ok: false; reason: string; missing: boolean };

/** The executable `name` on `path` (a PATH string), or undefined. */
export function which(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** How a command run with `runWithDeadline` ended. */
export interface RunOutcome {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run `cmd` to completion, killing it (its process group) after `timeoutMs`. Throws only when it cannot start. */
export async function runWithDeadline(cmd: string[], env: Record<string, string>, timeoutMs: number): Promise<RunOutcome> {
  const child = spawnChild(cmd, { env });
  child.closeStdin();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [stdout, stderr, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return { ...status, stdout, stderr, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/** Run `name args...` from `env.PATH`; never throws, gives up after `timeoutMs`. */
export async function runTool(name: string, args: string[], env: Record<string, string>, timeoutMs = 10_000): Promise<ToolResult> {
  const exe = which(name, env.PATH);
  if (!exe) return { ok: false, reason: `${name} not found on PATH`, missing: true };
  let out: RunOutcome;
  try {
    out = await runWithDeadline([exe, ...args], env, timeoutMs);
  } catch (err) {
    return { ok: false, reason: `${name} could not start: ${(err as Error).message}`, missing: false };
  }
  if (out.timedOut) return { ok: false, reason: `${name} did not answer within ${timeoutMs} ms`, missing: false };
  if (out.exitCode !== 0) {
    const said = (out.stdout.trim() || out.stderr.trim()).split("\n").filter(Boolean).slice(0, 2).join(" ");
    return { ok: false, reason: `${name} failed (exit ${out.exitCode ?? out.signal}): ${said || "no output"}`, missing: false };
  }
  return { ok: true, stdout: out.stdout };
}

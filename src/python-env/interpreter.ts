/** What an interpreter is (version, free-threading), the profile it suits, and an adapter's risky imports. */

import { runCommand } from "../runtime/process.ts";

/** `python -m snakepit_bridge.profile` output. */
export interface InterpreterReport {
  interpreter: { version: string; implementation: string; executable: string; free_threaded_build: boolean; gil_enabled: boolean; venv: boolean };
  recommendation: { profile: "process" | "thread"; reason: string };
  profile: "process" | "thread";
  imports: string[];
  findings: Array<{ library: string; status: "ok" | "warning" | "error" | "unknown"; notes: string }>;
}

/** Run the bridge's profile module in `python` (optionally scanning `adapter`'s imports). */
export async function interpreterReport(
  python: string,
  options: { bridgeDir: string; env: Record<string, string>; adapter?: string | undefined; profile?: "process" | "thread"; cwd?: string | undefined },
): Promise<InterpreterReport> {
  const args = [python, "-m", "snakepit_bridge.profile", "--profile", options.profile ?? "thread", ...(options.adapter ? ["--adapter", options.adapter] : [])];
  const out = await runCommand(args, { env: { ...options.env, PYTHONPATH: options.bridgeDir }, cwd: options.cwd });
  if (out.exitCode !== 0) throw new Error(`${python} -m snakepit_bridge.profile failed: ${out.stderr.trim().split("\n").pop() ?? `exit ${out.exitCode}`}`);
  return JSON.parse(out.stdout.trim().split("\n").pop() ?? "{}") as InterpreterReport;
}

/** `3.12.1` of an interpreter. */
export async function pythonVersion(python: string): Promise<string> {
  const out = await runCommand([python, "-c", "import platform; print(platform.python_version())"]);
  if (out.exitCode !== 0) throw new Error(`${python} cannot report its version: ${out.stderr.trim()}`);
  return out.stdout.trim();
}

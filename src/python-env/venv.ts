/**
 * The managed environment of a pool: a venv made with uv (when on PATH) or `python -m venv`,
 * the pool's requirements installed into it (index URL / wheelhouse for offline hosts), and a
 * lock file (interpreter + requirements hash + install options) so that a repeat is a no-op.
 */

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SnakepitError } from "../errors.ts";
import { runWithDeadline, which } from "../hardware/tool.ts";
import { hostEnv } from "../runtime/process.ts";
import { checkInstalled } from "./check.ts";
import { withDirLock } from "./dir-lock.ts";
import { type Requirements, venvPython } from "./requirements.ts";
import type { InstallConfig } from "./schema.ts";

/** What `snakepit-lock.json` in the venv records. */
export interface VenvLock {
  version: 1;
  interpreter: { path: string; version: string };
  requirements: { path: string; sha256: string };
  /** Hash of the install options (index, wheelhouse, installer). */
  optionsSha256: string;
  installer: "uv" | "pip";
  packages: Record<string, string>;
  createdAt: string;
}

/** The outcome of `ensureVenv`. */
export interface VenvResult {
  dir: string;
  python: string;
  /** "created", "updated" (requirements or options changed) or "unchanged" (the no-op). */
  action: "created" | "updated" | "unchanged";
  installer: "uv" | "pip";
  lock: VenvLock;
}

export const LOCK_FILE = "snakepit-lock.json";

/** The lock of a venv, or undefined when there is none (or it is unreadable). */
export function readLock(dir: string): VenvLock | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")) as VenvLock;
  } catch {
    return undefined;
  }
}

function optionsHash(o: InstallConfig, installer: string): string {
  return createHash("sha256").update(JSON.stringify([o.indexUrl ?? null, o.findLinks, o.noIndex, installer])).digest("hex");
}

function installerOf(o: InstallConfig, env: Record<string, string>): { name: "uv" | "pip"; uv?: string } {
  const uv = o.installer === "pip" ? undefined : which("uv", env.PATH);
  if (o.installer === "uv" && !uv) throw new SnakepitError("config_invalid", "install.installer is \"uv\" but uv is not on PATH", { details: { field: "install.installer" } });
  return uv ? { name: "uv", uv } : { name: "pip" };
}

/** Why the venv at `dir` is not current for these requirements, or undefined when it is. */
export function staleReason(dir: string, req: Requirements, base: { path: string; version: string }, o: InstallConfig, env: Record<string, string> = hostEnv()): string | undefined {
  const lock = readLock(dir);
  if (!lock || !existsSync(venvPython(dir))) return `no managed venv at ${dir}`;
  if (lock.interpreter.path !== base.path || lock.interpreter.version !== base.version) return `made with ${lock.interpreter.path} (${lock.interpreter.version}), not ${base.path} (${base.version})`;
  if (lock.requirements.sha256 !== req.sha256) return `${req.path} changed since the last setup`;
  if (lock.optionsSha256 !== optionsHash(o, installerOf(o, env).name)) return "install options changed since the last setup";
  return undefined;
}

async function run(cmd: string[], what: string, o: InstallConfig, env: Record<string, string>): Promise<void> {
  const out = await runWithDeadline(cmd, env, o.timeoutMs);
  if (out.timedOut) throw new SnakepitError("deadline_exceeded", `${what} took longer than ${o.timeoutMs} ms (install.timeoutMs)`, { details: { command: cmd.join(" ") } });
  if (out.exitCode !== 0) {
    const tail = (out.stderr.trim() || out.stdout.trim()).split("\n").slice(-6).join("\n");
    throw new SnakepitError("worker_spawn_failed", `${what} failed (exit ${out.exitCode}): ${tail}`, { details: { command: cmd.join(" ") } });
  }
}

/** Every distribution installed in `python`'s environment, name -> version (the lock's package list). */
async function installedDistributions(python: string, env: Record<string, string>): Promise<Record<string, string>> {
  const code = "import json, importlib.metadata as m; print(json.dumps(sorted((d.metadata['Name'], d.version) for d in m.distributions() if d.metadata['Name'])))";
  const out = await runWithDeadline([python, "-c", code], env, 60_000);
  if (out.exitCode !== 0) throw new SnakepitError("worker_spawn_failed", `${python} cannot list its packages: ${out.stderr.trim().split("\n").pop() ?? ""}`);
  return Object.fromEntries(JSON.parse(out.stdout) as Array<[string, string]>);
}

/** Create or update the venv at `dir` for `req`, using interpreter `base`; a no-op when the lock matches. */
export async function ensureVenv(dir: string, req: Requirements, base: { path: string; version: string }, o: InstallConfig, env: Record<string, string> = hostEnv()): Promise<VenvResult> {
  const inst = installerOf(o, env);
  const python = venvPython(dir);
  const previous = readLock(dir);
  if (!staleReason(dir, req, base, o, env)) return { dir, python, action: "unchanged", installer: inst.name, lock: previous! };
  mkdirSync(dirname(dir), { recursive: true });
  return withDirLock(`${dir}.lock`, o.timeoutMs, async () => {
    // Another process may have finished the same work while we waited.
    const now = readLock(dir);
    if (!staleReason(dir, req, base, o, env)) return { dir, python, action: "unchanged" as const, installer: inst.name, lock: now! };
    return build(dir, req, base, o, env, inst, now);
  });
}

async function build(dir: string, req: Requirements, base: { path: string; version: string }, o: InstallConfig, env: Record<string, string>, inst: { name: "uv" | "pip"; uv?: string }, previous: VenvLock | undefined): Promise<VenvResult> {
  const python = venvPython(dir);
  const sameInterpreter = previous && previous.interpreter.path === base.path && previous.interpreter.version === base.version && existsSync(python);
  if (!sameInterpreter) {
    const create = inst.uv ? [inst.uv, "venv", "--quiet", "--allow-existing", "--python", base.path, dir] : [base.path, "-m", "venv", "--clear", dir];
    await run(create, `creating the venv ${dir}`, o, env);
  }
  const sources = [...(o.indexUrl ? ["--index-url", o.indexUrl] : []), ...o.findLinks.flatMap((f) => ["--find-links", f]), ...(o.noIndex ? ["--no-index"] : [])];
  const what = req.kind === "requirements" ? ["-r", req.path] : req.entries;
  if (what.length) {
    const install = inst.uv
      ? [inst.uv, "pip", "install", "--python", python, ...sources, ...what]
      : [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", ...sources, ...what];
    await run(install, `installing ${req.path}`, o, { ...env, PIP_NO_INPUT: "1" });
  }
  const bad = (await checkInstalled(python, req.entries)).filter((s) => !s.ok);
  if (bad.length) {
    throw new SnakepitError("worker_spawn_failed", `after installing ${req.path}: ${bad.map((s) => `${s.name ?? s.requirement}: ${s.problem}`).join("; ")}`);
  }
  const packages = await installedDistributions(python, env);
  const lock: VenvLock = {
    version: 1, interpreter: base, requirements: { path: req.path, sha256: req.sha256 }, optionsSha256: optionsHash(o, inst.name),
    installer: inst.name, packages, createdAt: new Date().toISOString(),
  };
  writeFileSync(join(dir, `${LOCK_FILE}.tmp`), JSON.stringify(lock, null, 2) + "\n");
  renameSync(join(dir, `${LOCK_FILE}.tmp`), join(dir, LOCK_FILE));
  return { dir, python, action: previous && sameInterpreter ? "updated" : "created", installer: inst.name, lock };
}

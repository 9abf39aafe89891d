/**
 * What a pool needs before its workers start: the interpreter (its managed venv, made or updated
 * when `requirements` is set), its devices resolved against the detected hardware, and, under the
 * thread profile, a warning for adapters importing libraries that are unsafe under threads.
 */

import { resolve } from "node:path";
import type { PoolConfig } from "../config/schema.ts";
import { needsDetection, resolveDevices } from "../hardware/assign.ts";
import { detectHardware } from "../hardware/detect.ts";
import type { EventBus } from "../telemetry/bus.ts";
import { pythonForWorkers, resolvePython } from "../worker/python.ts";
import { interpreterReport, pythonVersion } from "./interpreter.ts";
import { readRequirements, venvDir } from "./requirements.ts";
import type { InstallConfig } from "./schema.ts";
import { ensureVenv, type VenvResult } from "./venv.ts";

/** What `preparePool` needs from its owner. */
export interface PrepareDeps {
  bus: EventBus;
  bridgeDir: string;
  env: Record<string, string>;
}

/** The pool's install options, relative wheelhouses made absolute against its cwd (like `requirements`). */
export function installOptions(config: PoolConfig): InstallConfig {
  const findLinks = config.install.findLinks.map((f) => /^[a-z][a-z0-9+.-]*:\/\//i.test(f) ? f : resolve(config.cwd ?? process.cwd(), f));
  return { ...config.install, findLinks };
}

/** Make (or confirm) the pool's venv; undefined when the pool names no `requirements`. */
export async function ensurePoolEnv(config: PoolConfig, env: Record<string, string>): Promise<VenvResult | undefined> {
  if (!config.requirements) return undefined;
  const base = await resolvePython(config.python);
  const req = await readRequirements(config.requirements, config.cwd);
  return ensureVenv(venvDir(req.path, config.venv, config.cwd), req, { path: base, version: await pythonVersion(base) }, installOptions(config), env);
}

/**
 * The interpreter and the config (devices resolved) a pool starts with; `checked` settles when
 * the interpreter is known to be fit (it may still be checked while the workers start).
 */
export async function preparePool(config: PoolConfig, deps: PrepareDeps): Promise<{ python: string; checked: Promise<void>; config: PoolConfig }> {
  const venv = await ensurePoolEnv(config, deps.env);
  const { python, checked } = venv ? { python: venv.python, checked: Promise.resolve() } : await pythonForWorkers(config.python);
  const hw = needsDetection(config.devices) ? await detectHardware({ env: deps.env }) : undefined;
  return { python, checked, config: { ...config, devices: resolveDevices(config.devices, hw, config.name) } };
}

/** Under the thread profile with `threadSafetyChecks`: emit `pool.thread_safety` for each unsafe import. */
export async function checkThreadSafety(config: PoolConfig, python: string, deps: PrepareDeps): Promise<void> {
  if (config.workerProfile !== "thread" || !config.threadSafetyChecks) return;
  try {
    const report = await interpreterReport(python, { bridgeDir: deps.bridgeDir, env: deps.env, adapter: config.adapter, profile: "thread", cwd: config.cwd });
    for (const f of report.findings) {
      if (f.status === "error") deps.bus.emit("pool.thread_safety", { pool: config.name, library: f.library, status: f.status, notes: f.notes });
    }
  } catch {
    // A check that cannot run never stops a pool; the workers' own start reports real problems.
  }
}

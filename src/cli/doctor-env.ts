/** The doctor's hardware, profile and managed-environment sections. */

import { existsSync } from "node:fs";
import type { PoolConfig } from "../config/schema.ts";
import { detectHardware } from "../hardware/detect.ts";
import { checkInstalled } from "../python-env/check.ts";
import { interpreterReport, pythonVersion } from "../python-env/interpreter.ts";
import { readRequirements, venvDir, venvPython } from "../python-env/requirements.ts";
import { staleReason } from "../python-env/venv.ts";
import { installOptions } from "../python-env/prepare.ts";
import { resolvePython } from "../worker/python.ts";
import type { Check } from "./doctor.ts";

/** The interpreter a pool's workers run: its managed venv's when there is one, else the configured one. */
export async function poolPython(pool: PoolConfig): Promise<string> {
  if (pool.requirements) {
    const dir = venvDir((await readRequirements(pool.requirements, pool.cwd).catch(() => undefined))?.path ?? pool.requirements, pool.venv, pool.cwd);
    if (existsSync(venvPython(dir))) return venvPython(dir);
  }
  return resolvePython(pool.python);
}

/** CPU, memory and GPUs: informational, never failing (no GPU is a valid host). */
export async function hardwareChecks(env: Record<string, string>): Promise<Check[]> {
  const hw = await detectHardware({ env });
  const c = hw.cpu;
  const gpus = hw.gpus.length
    ? hw.gpus.map((g) => `${g.id} ${g.name} (${g.memoryUsedMb}/${g.memoryTotalMb} MiB)`).join(", ") + (hw.cuda.version ? `; CUDA ${hw.cuda.version}` : "")
    : `none found (${[hw.cuda.reason, hw.rocm.reason, hw.mps.reason].filter(Boolean).join("; ")})`;
  return [
    { name: "cpu", ok: true, detail: `${c.model}: ${c.cores} cores, ${c.threads} threads${c.features.length ? `, ${c.features.join(" ")}` : ""}; memory ${c.memoryTotalMb} MiB (${c.memoryAvailableMb} MiB available)` },
    { name: "gpus", ok: true, detail: `${gpus}; accelerator: ${hw.accelerator}` },
  ];
}

/** The interpreter's profile advice and, under the thread profile, unsafe imports of the adapter. */
export async function profileCheck(pool: PoolConfig, python: string, bridgeDir: string, env: Record<string, string>): Promise<Check> {
  const name = `profile (${pool.name})`;
  try {
    const r = await interpreterReport(python, { bridgeDir, env, adapter: pool.adapter, profile: pool.workerProfile, cwd: pool.cwd });
    const i = r.interpreter;
    const kind = `${i.implementation} ${i.version}${i.free_threaded_build ? ` free-threaded (GIL ${i.gil_enabled ? "on" : "off"})` : ""}`;
    const unsafe = r.findings.filter((f) => f.status === "error");
    const risky = r.findings.filter((f) => f.status === "warning").map((f) => f.library);
    const detail = `${kind}; recommended: ${r.recommendation.profile} (${r.recommendation.reason}); pool uses ${pool.workerProfile}` +
      (risky.length ? `; conditionally thread-safe imports: ${risky.join(", ")}` : "");
    if (unsafe.length && pool.threadSafetyChecks) {
      return { name, ok: false, detail: `${detail}; NOT thread-safe: ${unsafe.map((f) => `${f.library} (${f.notes})`).join("; ")}`, fix: `set workerProfile = "process" for pool ${pool.name}, or threadSafetyChecks = false if the adapter guards these calls` };
    }
    return { name, ok: true, detail };
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message, fix: `run ${python} -m snakepit_bridge.profile with PYTHONPATH set to the bridge folder to see the whole error` };
  }
}

/** A pool's managed venv: present, current, and every requirement satisfied. */
export async function packagesCheck(pool: PoolConfig, env: Record<string, string>, configFile: string | undefined): Promise<Check | undefined> {
  if (!pool.requirements) return undefined;
  const name = `packages (${pool.name})`;
  const fix = `snakepit setup${configFile ? ` --config ${configFile}` : ""}`;
  try {
    const req = await readRequirements(pool.requirements, pool.cwd);
    const dir = venvDir(req.path, pool.venv, pool.cwd);
    const base = await resolvePython(pool.python);
    const stale = staleReason(dir, req, { path: base, version: await pythonVersion(base) }, installOptions(pool), env);
    if (stale && !existsSync(venvPython(dir))) return { name, ok: false, detail: stale, fix };
    const states = await checkInstalled(venvPython(dir), req.entries);
    const bad = states.filter((s) => !s.ok);
    if (bad.length) return { name, ok: false, detail: `${dir}: ${bad.map((s) => `${s.name ?? s.requirement}: ${s.problem}`).join("; ")}`, fix };
    if (stale) return { name, ok: false, detail: `${dir}: ${stale}`, fix };
    return { name, ok: true, detail: `${dir}: ${states.length} requirement(s) of ${req.path} satisfied` };
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message, fix };
  }
}

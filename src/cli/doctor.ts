/** `snakepit doctor`: check the set-up, each check ✓ or ✗ with how to fix it. */

import { accessSync, constants, mkdirSync } from "node:fs";
import type { PoolConfig, ServerConfig } from "../config/schema.ts";
import { hostEnv, runCommand, serveHttp } from "../runtime/process.ts";
import { checkAdapterPath } from "../config/adapter-path.ts";
import { hardwareChecks, packagesCheck, poolPython, profileCheck } from "./doctor-env.ts";
import { cacheDir, stateDir } from "../config/paths.ts";
import { loadFailureCause } from "../worker/load-error.ts";
import { adapterFix } from "./adapter-fix.ts";
import { versionLine } from "./version.ts";

/** One check's outcome. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

const PROBE = `
import json, sys
sys.argv = ["doctor"]
from snakepit_bridge.adapter import discover_tools, load_adapter
target = load_adapter(sys.stdin.read())
print(json.dumps(sorted(discover_tools(target))))
`;

function writable(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Run every check; never throws. */
export async function runChecks(pools: PoolConfig[], server: ServerConfig | undefined, bridgeDir: string, configFile?: string): Promise<Check[]> {
  const checks: Check[] = [];
  const env = { ...hostEnv(), PYTHONPATH: bridgeDir };
  for (const pool of pools) {
    let python: string;
    try {
      python = await poolPython(pool);
      const v = await runCommand([python, "-c", "import sys; print(sys.version.split()[0])"]);
      checks.push({ name: `interpreter (${pool.name})`, ok: true, detail: `${python} (Python ${v.stdout.trim()})` });
    } catch (err) {
      checks.push({
        name: `interpreter (${pool.name})`, ok: false, detail: (err as Error).message,
        fix: "install Python 3.9+ (e.g. apt-get install python3), or pass --python /path/to/python3 or set SNAKEPIT_PYTHON",
      });
      continue;
    }
    const bridge = await runCommand([python, "-c", "import snakepit_bridge as b; print(b.__version__)"], { env });
    checks.push(bridge.exitCode === 0
      ? { name: "bridge importable", ok: true, detail: `snakepit_bridge ${bridge.stdout.trim()} from ${bridgeDir}` }
      : { name: "bridge importable", ok: false, detail: lastLine(bridge.stderr), fix: `check that ${bridgeDir}/snakepit_bridge exists (re-run \`snakepit setup\`)` });
    const extras = await runCommand([python, "-c", "import importlib.util as u; print(' '.join(m for m in ('orjson','numpy') if u.find_spec(m)))"], { env });
    checks.push({ name: "optional speed-ups", ok: true, detail: extras.stdout.trim() ? `found: ${extras.stdout.trim()}` : "none (orjson, numpy are optional)" });
    const probe = await runProbe(python, pool.adapter, env, pool.cwd);
    checks.push(probe.ok
      ? { name: `adapter (${pool.name})`, ok: true, detail: `${pool.adapter}: tools ${probe.tools.join(", ") || "(none)"}` }
      : { name: `adapter (${pool.name})`, ok: false, detail: `${probe.error} (adapter ${pool.adapter})`, fix: adapterFix(probe.error, python) });
    const packages = await packagesCheck(pool, env, configFile);
    if (packages) checks.push(packages);
    // The profile check loads the adapter too: when that failed, the adapter line already says why.
    if (probe.ok) checks.push(await profileCheck(pool, python, bridgeDir, env));
  }
  checks.push(...await hardwareChecks(env));
  checks.push({ name: "worker sockets", ok: true, detail: "none needed: workers talk over inherited pipes and bind no port" });
  for (const [name, dir] of [["cache dir", cacheDir()], ["state dir", stateDir()]] as const) {
    const problem = writable(dir);
    checks.push(problem
      ? { name, ok: false, detail: `${dir}: ${problem}`, fix: `make it writable, or set ${name === "cache dir" ? "SNAKEPIT_CACHE_DIR" : "SNAKEPIT_STATE_DIR"}` }
      : { name, ok: true, detail: `${dir} is writable` });
  }
  if (server) {
    try {
      const s = serveHttp(() => new Response("doctor"), { hostname: server.host, port: server.port });
      await s.stop(true);
      checks.push({ name: "port", ok: true, detail: `${server.host}:${server.port} is free` });
    } catch (err) {
      checks.push({ name: "port", ok: false, detail: `${server.host}:${server.port}: ${(err as Error).message}`, fix: "pick another with --port, or --port 0 for any free port" });
    }
  }
  return checks;
}

async function runProbe(python: string, adapter: string, env: Record<string, string>, cwd: string | undefined): Promise<{ ok: true; tools: string[] } | { ok: false; error: string }> {
  try {
    checkAdapterPath(adapter, cwd);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  const { spawnChild } = await import("../runtime/process.ts");
  const child = spawnChild([python, "-c", PROBE], { env, cwd });
  child.write(new TextEncoder().encode(adapter));
  child.closeStdin();
  const [out, err, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (status.exitCode === 0) return { ok: true, tools: JSON.parse(out.trim().split("\n").pop() ?? "[]") as string[] };
  return { ok: false, error: loadFailureCause(err) ?? (lastLine(err) || `exit code ${status.exitCode}`) };
}

function lastLine(text: string): string {
  return text.trim().split("\n").pop() ?? "";
}

/** Print checks; returns true when all passed. */
export function printChecks(checks: Check[]): boolean {
  for (const c of checks) {
    console.log(`${c.ok ? "✓" : "✗"} ${c.name}: ${c.detail}`);
    if (!c.ok && c.fix) console.log(`    fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  console.log(failed ? `\n${failed} check(s) failed` : "\nall checks passed");
  return failed === 0;
}

/** Print checks as one JSON object (for scripts and CI); returns true when all passed. */
export function printChecksJson(checks: Check[]): boolean {
  const ok = checks.every((c) => c.ok);
  console.log(JSON.stringify({ ok, version: versionLine(), platform: `${process.platform}-${process.arch}`, checks }));
  return ok;
}

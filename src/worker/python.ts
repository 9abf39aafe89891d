/** Finding the Python interpreter and the bridge package, once per process. */

import { closeSync, openSync, readSync } from "node:fs";
import { SnakepitError } from "../errors.ts";
import { hostEnv, runCommand } from "../runtime/process.ts";

const resolved = new Map<string, Promise<string>>();

/**
 * Resolve an interpreter to its real executable (`sys.executable`), so shims such as pyenv's
 * are paid for once, not at every worker start. Cached per requested name.
 */
export function resolvePython(requested?: string): Promise<string> {
  const name = requested ?? hostEnv().SNAKEPIT_PYTHON ?? "python3";
  let found = resolved.get(name);
  if (!found) {
    found = probe(name);
    resolved.set(name, found);
    found.catch(() => resolved.delete(name));
  }
  return found;
}

/**
 * The interpreter to start workers with. An absolute path to a native executable (no shim to
 * resolve) is used at once while the probe checks it (version, bytecode) beside the workers'
 * start: `checked` fails as `resolvePython` would. Anything else is resolved first.
 */
export async function pythonForWorkers(requested?: string): Promise<{ python: string; checked: Promise<void> }> {
  const name = requested ?? hostEnv().SNAKEPIT_PYTHON ?? "python3";
  if (!isNativeExecutable(name)) return { python: await resolvePython(name), checked: Promise.resolve() };
  const checked = resolvePython(name).then(() => undefined);
  checked.catch(() => {}); // the caller awaits it with the workers' start
  return { python: name, checked };
}

function isNativeExecutable(path: string): boolean {
  if (!path.startsWith("/")) return false;
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const head = new Uint8Array(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46; // "\x7fELF"
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Prints the interpreter and its version, and compiles the bridge's bytecode when it is missing or
 * stale: under PYTHONDONTWRITEBYTECODE (common in containers) every worker would otherwise compile
 * the whole bridge at each start (~17 ms of CPU each). Like pip at install time, only into our own
 * package, and only where its owner may write (not the binary's read-only asset tree).
 */
const PROBE = `
import os, sys
print(sys.executable)
print("%d.%d" % sys.version_info[:2])
pkg = os.path.join(sys.argv[1], "snakepit_bridge")
try:
    from importlib.util import cache_from_source
    def fresh(name):
        try:
            return os.stat(cache_from_source(os.path.join(pkg, name))).st_mtime >= os.stat(os.path.join(pkg, name)).st_mtime
        except OSError:
            return False
    if os.stat(pkg).st_mode & 0o200 and not all(fresh(n) for n in os.listdir(pkg) if n.endswith(".py")):
        import compileall
        compileall.compile_dir(pkg, maxlevels=0, quiet=2)
except Exception:
    pass
`;

async function probe(name: string): Promise<string> {
  let out;
  try {
    out = await runCommand([name, "-c", PROBE, getBridgeDir()]);
  } catch (cause) {
    throw new SnakepitError("worker_spawn_failed", `Cannot run Python interpreter "${name}": ${String((cause as Error).message ?? cause)}`, {
      cause,
      details: { python: name },
    });
  }
  const [exe, version] = out.stdout.trim().split("\n");
  if (out.exitCode !== 0 || !exe) {
    throw new SnakepitError("worker_spawn_failed", `Python interpreter "${name}" failed: ${out.stderr.trim() || `exit code ${out.exitCode}`}`, {
      details: { python: name },
    });
  }
  const [major, minor] = (version ?? "0.0").split(".").map(Number);
  if (major !== 3 || (minor ?? 0) < 9) {
    throw new SnakepitError("worker_spawn_failed", `Python ${version} at ${exe} is too old: snakepit needs Python 3.9 or newer`, {
      details: { python: exe, version },
    });
  }
  return exe;
}

let bridgeDir: string | undefined;

/** Use `dir` (which contains `snakepit_bridge/`) instead of the repository's `python/`. */
export function setBridgeDir(dir: string): void {
  bridgeDir = dir;
}

/** The directory to put on PYTHONPATH so that `import snakepit_bridge` works. */
export function getBridgeDir(): string {
  return bridgeDir ?? hostEnv().SNAKEPIT_BRIDGE_DIR ?? new URL("../../python", import.meta.url).pathname;
}

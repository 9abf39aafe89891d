/** Which requirements an interpreter satisfies: installed version against each specifier. */

import { runCommand } from "../runtime/process.ts";

/** One requirement's state in an environment. */
export interface PackageState {
  requirement: string;
  name: string | null;
  installed: string | null;
  ok: boolean;
  /** "missing", "version X does not satisfy S", or why it could not be checked. */
  problem?: string | undefined;
}

// Runs in the target interpreter; `packaging` (or pip's vendored copy) checks the specifiers.
const PROBE = `
import json, re, sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    try:
        from pip._vendor.packaging.requirements import Requirement
    except ImportError:
        Requirement = None
out = []
for line in json.loads(sys.argv[1]):
    row = {"requirement": line, "name": None, "installed": None, "ok": False}
    spec = None
    if Requirement is not None:
        try:
            r = Requirement(line)
            row["name"], spec = r.name, r.specifier
        except Exception:
            pass
    if row["name"] is None:
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if m and not line.startswith((".", "/")):
            row["name"] = m.group(1)
    if row["name"] is None:
        row["ok"] = True
        row["problem"] = "not checked: a path without a package name"
        out.append(row)
        continue
    try:
        row["installed"] = metadata.version(row["name"])
    except metadata.PackageNotFoundError:
        row["problem"] = "missing"
        out.append(row)
        continue
    if spec is not None and not spec.contains(row["installed"], prereleases=True):
        row["problem"] = "version %s does not satisfy %s" % (row["installed"], spec)
    else:
        row["ok"] = True
    out.append(row)
print(json.dumps(out))
`;

/** Check `entries` in `python`'s environment. Throws when the interpreter cannot run. */
export async function checkInstalled(python: string, entries: readonly string[], env?: Record<string, string>): Promise<PackageState[]> {
  const out = await runCommand([python, "-c", PROBE, JSON.stringify(entries)], env ? { env } : {});
  if (out.exitCode !== 0) throw new Error(`${python} could not check packages: ${out.stderr.trim().split("\n").pop() ?? ""}`);
  return JSON.parse(out.stdout.trim().split("\n").pop() ?? "[]") as PackageState[];
}

/** A pool's requirements (requirements.txt or pyproject.toml): its lines, and a hash for the lock. */

import { createHash } from "node:crypto";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { SnakepitError } from "../errors.ts";
import { readTextFile } from "../runtime/process.ts";

/** Requirements read from a file. */
export interface Requirements {
  /** Absolute path of the file. */
  path: string;
  kind: "requirements" | "pyproject";
  /** Requirement specifiers (`numpy>=1.26`, `pkg @ file:///...`), options and comments left out. */
  entries: string[];
  /** sha256 of the file's text. */
  sha256: string;
}

/** Read and hash a requirements.txt or a pyproject.toml's `[project] dependencies`. */
export async function readRequirements(file: string, cwd: string = process.cwd()): Promise<Requirements> {
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  const text = await readTextFile(path);
  if (text === undefined) {
    throw new SnakepitError("config_invalid", `requirements: cannot read ${path}`, { details: { field: "requirements", source: path } });
  }
  const sha256 = createHash("sha256").update(text).digest("hex");
  if (path.endsWith(".toml")) {
    let deps: unknown;
    try {
      deps = (parseToml(text) as { project?: { dependencies?: unknown } }).project?.dependencies ?? [];
    } catch (err) {
      throw new SnakepitError("config_invalid", `requirements: ${path}: ${(err as Error).message.split("\n")[0]}`, { details: { field: "requirements", source: path } });
    }
    if (!Array.isArray(deps) || !deps.every((d) => typeof d === "string")) {
      throw new SnakepitError("config_invalid", `requirements: ${path}: [project] dependencies must be a list of strings`, { details: { field: "requirements", source: path } });
    }
    return { path, kind: "pyproject", entries: deps as string[], sha256 };
  }
  const entries = text.split("\n")
    .map((l) => l.replace(/(^|\s)#.*$/, "").trim())
    .filter((l) => l && !l.startsWith("-"));
  return { path, kind: "requirements", entries, sha256 };
}

/** The venv folder of a pool: `venv` as given, else `.snakepit/venv` next to the requirements file. */
export function venvDir(requirementsPath: string, venv: string | undefined, cwd: string = process.cwd()): string {
  if (venv) return isAbsolute(venv) ? venv : resolve(cwd, venv);
  return join(dirname(requirementsPath), ".snakepit", "venv");
}

/** The interpreter inside a venv. */
export function venvPython(dir: string): string {
  return process.platform === "win32" ? join(dir, "Scripts", "python.exe") : join(dir, "bin", "python");
}

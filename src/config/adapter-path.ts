/**
 * The host checks an adapter's file before spawning any Python: a missing file is a config error
 * naming the absolute path it looked for, not a traceback from every worker.
 */

import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { SnakepitError } from "../errors.ts";

/** The file part of "path/to/file.py[:Class]"; undefined for a module name ("pkg.module[:Class]"). */
export function adapterFile(spec: string): string | undefined {
  const colon = spec.lastIndexOf(":");
  const file = colon > 0 && !spec.slice(colon + 1).includes("/") ? spec.slice(0, colon) : spec;
  return file.endsWith(".py") || file.includes("/") ? file : undefined;
}

/** Throws `config_invalid` when the adapter names a file that is not there (resolved against `cwd`). */
export function checkAdapterPath(spec: string, cwd: string | undefined): void {
  const file = adapterFile(spec);
  if (file === undefined) return;
  const base = cwd ?? process.cwd();
  const path = isAbsolute(file) ? file : resolve(base, file);
  const where = isAbsolute(file) ? "" : ` ("${file}" is relative to ${base})`;
  if (!existsSync(path)) {
    throw new SnakepitError("config_invalid", `adapter file not found: ${path}${where}`, { details: { field: "adapter", path } });
  }
  if (!statSync(path).isFile()) {
    throw new SnakepitError("config_invalid", `adapter is not a file: ${path}${where}; name a .py file, or a module as package.module`, {
      details: { field: "adapter", path },
    });
  }
}

/** Config of a managed Python environment: where packages come from (for offline hosts too). */

import { z } from "zod";

/** How `snakepit setup` installs a pool's `requirements`. */
export const InstallSchema = z.object({
  indexUrl: z.string().min(1).optional().describe("Package index to install from (pip/uv `--index-url`)"),
  findLinks: z.array(z.string().min(1)).default([]).describe("Folders or URLs of wheels/sdists to look in (`--find-links`), e.g. a wheelhouse"),
  noIndex: z.boolean().default(false).describe("Use only `findLinks`, never an index (offline hosts)"),
  installer: z.enum(["auto", "uv", "pip"]).default("auto").describe("`auto`: uv when on PATH, else `python -m venv` + pip"),
  timeoutMs: z.number().int().positive().default(600_000).describe("Longest a venv creation or install may take"),
}).strict();

export type InstallConfig = z.output<typeof InstallSchema>;

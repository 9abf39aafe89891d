/**
 * The version `--version` prints: package.json's, plus the build stamp that `scripts/release.ts`
 * defines at compile time (git commit, platform, date), else the runtime running the source.
 */

import pkg from "../../package.json" with { type: "json" };

declare const SNAKEPIT_BUILD: string | undefined;

export const VERSION: string = pkg.version;

/** e.g. "0.1.0 (build 1a2b3c4d linux-arm64 2026-12-03)" from a binary, "0.1.0 (bun 1.4.4)" from source. */
export function versionLine(): string {
  if (typeof SNAKEPIT_BUILD === "string") return `${VERSION} (${SNAKEPIT_BUILD})`;
  const v = process.versions as Record<string, string | undefined>;
  return `${VERSION} (${v.bun ? `bun ${v.bun}` : v.deno ? `deno ${v.deno}` : `node ${v.node}`})`;
}

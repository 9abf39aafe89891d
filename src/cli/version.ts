/**
 * The version `--version` prints: package.json's, plus the build stamp that `scripts/release.ts`
 * defines at compile time (target, git commit, date), or "source" when run from a checkout.
 */

import pkg from "../../package.json" with { type: "json" };

declare const SNAKEPIT_BUILD: string | undefined;

export const VERSION: string = pkg.version;

/** e.g. "0.1.0 (build 1a2b3c4d linux-arm64 2026-12-03)" or "0.1.0 (source)". */
export function versionLine(): string {
  const build = typeof SNAKEPIT_BUILD === "string" ? SNAKEPIT_BUILD : "source";
  return `${VERSION} (${build})`;
}

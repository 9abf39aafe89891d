/**
 * `npm run build:lib` (run by `npm pack` / `npm publish` as prepack): the library as JavaScript
 * plus .d.ts in dist/ for runtimes that do not take TypeScript from node_modules (Deno) and for
 * type checkers. dist/ keeps the module layout of src/, so dist/worker/python.js finds ../../python
 * like src/worker/python.ts does. Stale output from an earlier build is removed first.
 */

import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "dist");
for (const entry of (() => {
  try {
    return readdirSync(dist, { withFileTypes: true });
  } catch {
    return [];
  }
})()) {
  // Keep binaries (dist/snakepit, dist/release/); drop compiled modules.
  if ((entry.isDirectory() && entry.name !== "release") || /\.(js|d\.ts)$/.test(entry.name)) rmSync(join(dist, entry.name), { recursive: true, force: true });
}
const tsc = Bun.spawnSync([join(root, "node_modules/.bin/tsc"), "-p", join(root, "tsconfig.build.json")], { stdout: "inherit", stderr: "inherit" });
process.exit(tsc.exitCode ?? 1);

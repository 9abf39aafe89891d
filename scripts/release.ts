/**
 * `npm run release [-- --targets linux-arm64,linux-x64] [--out DIR]`: the single binary for each
 * platform users have, cross-compiled here (Bun fetches each target's runtime from npm once and
 * caches it), named snakepit-<platform>, with SHA256SUMS next to them. `--version` of each says
 * its version, git commit, platform and build date.
 */

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildBinary, gitCommit, ROOT } from "./build-binary.ts";

/** Platform name (the file suffix users pick by) → Bun compile target. */
const TARGETS: Record<string, string> = {
  "linux-x64": "bun-linux-x64",
  "linux-x64-musl": "bun-linux-x64-musl",
  "linux-arm64": "bun-linux-arm64",
  "darwin-arm64": "bun-darwin-arm64",
  "darwin-x64": "bun-darwin-x64",
};

const { values } = parseArgs({ args: process.argv.slice(2), options: { targets: { type: "string" }, out: { type: "string" } } });
const names = values.targets ? values.targets.split(",").map((t) => t.trim()) : Object.keys(TARGETS);
const unknown = names.filter((n) => !(n in TARGETS));
if (unknown.length) {
  console.error(`release: unknown target(s) ${unknown.join(", ")}; known: ${Object.keys(TARGETS).join(", ")}`);
  process.exit(64);
}
const out = values.out ?? join(ROOT, "dist/release");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const commit = gitCommit();
const date = new Date().toISOString().slice(0, 10);
const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
const sums: string[] = [];
const t0 = performance.now();
for (const name of names) {
  const file = `snakepit-${name}`;
  const started = performance.now();
  const { code } = await buildBinary({ outfile: join(out, file), target: TARGETS[name]!, stamp: `build ${commit} ${name} ${date}` });
  if (code !== 0) {
    console.error(`release: building ${name} failed (exit ${code}); Bun needs to fetch the ${TARGETS[name]} runtime from npm once`);
    process.exit(1);
  }
  const bytes = readFileSync(join(out, file));
  sums.push(`${createHash("sha256").update(bytes).digest("hex")}  ${file}`);
  const mb = (statSync(join(out, file)).size / 1e6).toFixed(1);
  console.log(`${file}: ${mb} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
writeFileSync(join(out, "SHA256SUMS"), sums.join("\n") + "\n");
console.log(`snakepit ${version} (${commit}): ${names.length} binaries and SHA256SUMS in ${out} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

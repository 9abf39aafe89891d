/**
 * Build the single executable: `bun build --compile` of the CLI, with the Python bridge and the
 * example adapter embedded, their content hash fixed at build time (the cache key) and each
 * file's SHA-256 (checked against the extracted tree before each launch).
 */

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { manifestOf } from "../src/cli/asset-cache.ts";
import { contentHash } from "../src/cli/assets.ts";

const root = new URL("..", import.meta.url).pathname;
const outfile = process.argv[2] ?? join(root, "dist/snakepit");

function pyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "__pycache__" ? [] : pyFiles(path);
    return e.name.endsWith(".py") ? [path] : [];
  });
}

const assets = [...pyFiles(join(root, "python/snakepit_bridge")), join(root, "examples/adapters/demo.py")];
const files = assets.map((p) => ({ name: relative(root, p), bytes: readFileSync(p) }));
const hash = contentHash(files);
// Every file's SHA-256, held in the binary: the extracted tree is checked against it at each launch.
const manifest = JSON.stringify(manifestOf(files));
const cmd = [
  process.execPath, "build", "--compile", "--minify",
  join(root, "src/cli/main.ts"), ...assets,
  "--asset-naming=[dir]/[name].[ext]",
  `--define=SNAKEPIT_ASSET_HASH="${hash}"`,
  `--define=SNAKEPIT_ASSET_MANIFEST=${JSON.stringify(manifest)}`,
  "--outfile", outfile,
];
const proc = Bun.spawn(cmd, { cwd: root, stdout: "inherit", stderr: "inherit" });
const code = await proc.exited;
if (code === 0) console.log(`built ${outfile} (assets ${hash}, ${assets.length} files)`);
process.exit(code);

/**
 * One single executable: `bun build --compile` of the CLI for a target, with the Python bridge
 * (and its pyproject.toml, so `pip install` works on the extracted copy) and the example adapter
 * embedded; their content hash (the extraction cache key), each file's SHA-256 (checked against the
 * extracted tree before each launch) and the build stamp fixed at build time.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { manifestOf } from "../src/cli/asset-cache.ts";
import { contentHash } from "../src/cli/assets.ts";

export const ROOT: string = new URL("..", import.meta.url).pathname;

function pyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "__pycache__" ? [] : pyFiles(path);
    return e.name.endsWith(".py") ? [path] : [];
  });
}

/** The files embedded in every binary. */
export function assetFiles(): string[] {
  return [
    ...pyFiles(join(ROOT, "python/snakepit_bridge")),
    join(ROOT, "python/pyproject.toml"),
    join(ROOT, "python/_backend/snakepit_backend.py"),
    join(ROOT, "examples/adapters/demo.py"),
  ];
}

/** The git commit of the tree being built (short; "-dirty" when it has changes), or "nogit". */
export function gitCommit(): string {
  const rev = Bun.spawnSync(["git", "rev-parse", "--short=10", "HEAD"], { cwd: ROOT });
  if (rev.exitCode !== 0) return "nogit";
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: ROOT }).stdout.toString().trim();
  return rev.stdout.toString().trim() + (dirty ? "-dirty" : "");
}

export interface BuildOptions {
  outfile: string;
  /** Bun's compile target, e.g. "bun-linux-arm64"; the host's when absent. */
  target?: string;
  /** What `--version` shows in parentheses, e.g. "build 1a2b3c4d linux-arm64 2026-12-03". */
  stamp: string;
}

/** Build one binary; resolves with bun's exit code (its output goes to ours). */
export async function buildBinary(options: BuildOptions): Promise<{ code: number; assetHash: string; files: number }> {
  const assets = assetFiles();
  const files = assets.map((p) => ({ name: relative(ROOT, p), bytes: readFileSync(p) }));
  const assetHash = contentHash(files);
  // Every file's SHA-256, held in the binary: the extracted tree is checked against it at each launch.
  const manifest = JSON.stringify(manifestOf(files));
  const cmd = [
    process.execPath, "build", "--compile", "--minify", "--bytecode", "--format=esm",
    ...(options.target ? [`--target=${options.target}`] : []),
    join(ROOT, "src/cli/main.ts"), ...assets,
    "--asset-naming=[dir]/[name].[ext]",
    "--loader=.toml:file", // pyproject.toml is a file to embed, not a module
    `--define=SNAKEPIT_ASSET_HASH=${JSON.stringify(assetHash)}`,
    `--define=SNAKEPIT_ASSET_MANIFEST=${JSON.stringify(manifest)}`,
    `--define=SNAKEPIT_BUILD=${JSON.stringify(options.stamp)}`,
    "--outfile", options.outfile,
  ];
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  return { code: await proc.exited, assetHash, files: assets.length };
}

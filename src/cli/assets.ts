/**
 * Where the Python bridge and the example adapter live. From a source checkout: the repo's
 * folders. In a compiled binary: the embedded copies, extracted to a private cache folder named by
 * a build-time content hash and verified against the hashes the binary holds before each launch
 * (see `asset-cache.ts`: a planted or edited file is never run).
 */

import { createHash } from "node:crypto";
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../config/paths.ts";
import { embeddedFiles } from "../runtime/process.ts";
import { type AssetManifest, ensureAssets } from "./asset-cache.ts";

declare const SNAKEPIT_ASSET_HASH: string | undefined;
declare const SNAKEPIT_ASSET_MANIFEST: string | undefined;
/** Paths the CLI needs. */
export interface Assets {
  /** Folder containing `snakepit_bridge/` (goes on PYTHONPATH). */
  bridgeDir: string;
  /** The built-in example adapter, as an adapter spec. */
  exampleAdapter: string;
  /** True when running from a compiled binary. */
  compiled: boolean;
}

let prepared: Promise<Assets> | undefined;

/** Resolve (and in a binary, extract) the assets; cached for the process. */
export function prepareAssets(): Promise<Assets> {
  prepared ??= resolveAssets();
  return prepared;
}

async function resolveAssets(): Promise<Assets> {
  const files = embeddedFiles().filter((f) => f.name.startsWith("python/") || f.name.startsWith("examples/"));
  if (files.length === 0) {
    const root = new URL("../..", import.meta.url).pathname;
    return { bridgeDir: join(root, "python"), exampleAdapter: join(root, "examples/adapters/demo.py:DemoAdapter"), compiled: false };
  }
  const contents = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: await f.bytes() })));
  const hash = typeof SNAKEPIT_ASSET_HASH === "string" ? SNAKEPIT_ASSET_HASH : contentHash(contents);
  const manifest = typeof SNAKEPIT_ASSET_MANIFEST === "string" ? (JSON.parse(SNAKEPIT_ASSET_MANIFEST) as AssetManifest) : undefined;
  const target = ensureAssets(contents, cacheDir(), hash, {
    ...(manifest ? { manifest } : {}),
    onRepair: (why) => console.error(`snakepit: the extracted assets did not match this binary (${why}); extracted them again`),
  });
  usePycache(cacheDir());
  return { bridgeDir: join(target, "python"), exampleAdapter: join(target, "examples/adapters/demo.py:DemoAdapter"), compiled: true };
}

/**
 * The extracted bridge is read-only, so Python can keep no `__pycache__` beside it: its workers
 * keep the bridge's bytecode in `<cache>/pycache` instead (0700; checked-hash pycs, so a stale one
 * is never used: python/snakepit_bridge/bytecode.py), unless SNAKEPIT_PYCACHE_DIR says elsewhere
 * (empty: no cache).
 */
function usePycache(root: string): void {
  if (process.env.SNAKEPIT_PYCACHE_DIR !== undefined) return; // set by the user; empty turns the cache off
  const dir = join(root, "pycache");
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    process.env.SNAKEPIT_PYCACHE_DIR = dir; // workers inherit the host's environment
  } catch {
    // No cache then: every interpreter compiles the bridge, as before.
  }
}

/** Hash of file names and contents, as the build computes it. */
export function contentHash(files: Array<{ name: string; bytes: Uint8Array }>): string {
  const h = createHash("sha256");
  for (const f of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    h.update(f.name);
    h.update("\0");
    h.update(f.bytes);
  }
  return h.digest("hex").slice(0, 16);
}

/**
 * Where the Python bridge and the example adapter live. From a source checkout: the repo's
 * folders. In a compiled binary: the embedded copies, extracted once to a cache folder named by
 * a build-time content hash (atomic rename, so two instances starting at once are safe).
 */

import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cacheDir } from "../config/paths.ts";
import { embeddedFiles } from "../runtime/process.ts";

declare const SNAKEPIT_ASSET_HASH: string | undefined;

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
  let target = join(cacheDir(), `assets-${hash}`);
  if (!existsSync(target)) extract(contents, target);
  if (!isOurs(target)) {
    // Someone else's (or a writable-by-others) folder: never run code from it; use a private copy.
    target = join(cacheDir(), `assets-${hash}-${process.getuid?.() ?? 0}-${process.pid}`);
    rmSync(target, { recursive: true, force: true });
    extract(contents, target);
  }
  return { bridgeDir: join(target, "python"), exampleAdapter: join(target, "examples/adapters/demo.py:DemoAdapter"), compiled: true };
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

/** A real folder, owned by us, writable by nobody else. */
function isOurs(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    return st.isDirectory() && !st.isSymbolicLink() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function extract(files: Array<{ name: string; bytes: Uint8Array }>, target: string): void {
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const tmp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    mkdirSync(tmp, { mode: 0o700 });
    chmodSync(tmp, 0o755 & ~0o022);
    for (const f of files) {
      const path = join(tmp, f.name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.bytes);
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // Another instance extracted the same hash first: theirs is identical.
    if (!existsSync(target)) throw err;
  }
}

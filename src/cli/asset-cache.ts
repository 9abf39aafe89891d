/**
 * The extracted asset cache, made safe to run code from. Before each launch the tree is checked
 * against the hashes the binary holds: exactly the expected files (nothing planted beside them,
 * no `__pycache__`), each with the expected SHA-256, no symlinks, everything owned by this user,
 * folders 0500 and files 0400 whatever the umask (nobody can add a file, not even a stray
 * `.pyc`). A tree that does not match is moved aside and extracted again, with a message naming
 * what was wrong; a cache folder that others could tamper with is refused.
 */

import { createHash } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { SnakepitError } from "../errors.ts";

const DIR_MODE = 0o500;
const FILE_MODE = 0o400;

/** An embedded file. */
export interface AssetFile {
  name: string;
  bytes: Uint8Array;
}

/** File name -> SHA-256 (hex). */
export type AssetManifest = Record<string, string>;

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The manifest of a set of files. */
export function manifestOf(files: readonly AssetFile[]): AssetManifest {
  return Object.fromEntries(files.map((f) => [f.name, sha256(f.bytes)]));
}

const uid = () => process.getuid?.();

function refuse(dir: string, why: string): SnakepitError {
  return new SnakepitError("config_invalid", `Refusing the asset cache folder "${dir}": ${why}. Set SNAKEPIT_CACHE_DIR to a folder only you can write`, {
    details: { field: "cacheDir", path: dir },
  });
}

/**
 * Make the cache root private (0700, created if missing) and check that no other user can replace
 * it: it and every folder above it must belong to us or root and, unless sticky (like /tmp),
 * be writable by nobody else.
 */
export function secureCacheRoot(root: string): void {
  const dir = resolve(root);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) throw refuse(dir, "it is not a plain folder");
  if (uid() !== undefined && st.uid !== uid()) throw refuse(dir, `it belongs to uid ${st.uid}, not to you (uid ${uid()})`);
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  for (let up = dirname(dir); ; up = dirname(up)) {
    const a = lstatSync(up);
    const owner = a.uid === 0 || a.uid === uid();
    const othersWrite = (a.mode & 0o022) !== 0 && (a.mode & 0o1000) === 0;
    if (uid() !== undefined && (!owner || othersWrite)) {
      throw refuse(dir, `the folder above it, "${up}", can be changed by other users (owner uid ${a.uid}, mode ${(a.mode & 0o7777).toString(8)})`);
    }
    if (up === dirname(up)) break;
  }
}

/** What is wrong with an extracted tree, or undefined when it matches the manifest exactly. */
export function verifyTree(dir: string, manifest: AssetManifest): string | undefined {
  const seen = new Set<string>();
  const walk = (rel: string): string | undefined => {
    const path = rel ? join(dir, rel) : dir;
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return `${rel || "."} is missing`;
    if (uid() !== undefined && st.uid !== uid()) return `${rel || "."} belongs to uid ${st.uid}`;
    if (st.isSymbolicLink()) return `${rel} is a symbolic link`;
    if (st.isDirectory()) {
      if ((st.mode & 0o777) !== DIR_MODE) return `${rel || "."} has mode ${(st.mode & 0o777).toString(8)}`;
      for (const name of readdirSync(path)) {
        const problem = walk(rel ? `${rel}/${name}` : name);
        if (problem) return problem;
      }
      return undefined;
    }
    if (!st.isFile()) return `${rel} is not a regular file`;
    if (!(rel in manifest)) return `${rel} is not part of this binary (planted?)`;
    if ((st.mode & 0o777) !== FILE_MODE) return `${rel} has mode ${(st.mode & 0o777).toString(8)}`;
    if (sha256(readFileSync(path)) !== manifest[rel]) return `${rel} was changed`;
    seen.add(rel);
    return undefined;
  };
  try {
    const problem = walk("");
    if (problem) return problem;
  } catch (err) {
    return `cannot be read (${(err as Error).message})`;
  }
  const missing = Object.keys(manifest).find((name) => !seen.has(name));
  return missing ? `${missing} is missing` : undefined;
}

/**
 * Drop `__pycache__` folders: bytecode cannot be checked against the binary, so none is kept
 * (Python cannot write any in the read-only tree, except as root, which ignores modes).
 */
function purgeBytecode(dir: string): void {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (entry.name !== "__pycache__") {
        purgeBytecode(path);
        continue;
      }
      const mode = lstatSync(dir).mode & 0o777;
      chmodSync(dir, 0o700);
      removeTree(path);
      chmodSync(dir, mode);
    }
  } catch {
    // not ours or unreadable: verifyTree reports it
  }
}

/** Write the files into a fresh folder, modes set explicitly (the umask plays no part). */
function writeTree(files: readonly AssetFile[], dir: string): void {
  mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, 0o700);
  const dirs = new Set<string>([dir]);
  for (const f of files) {
    if (f.name.split("/").some((part) => part === ".." || part === "")) throw new Error(`unsafe asset name "${f.name}"`);
    const path = join(dir, f.name);
    for (let d = dirname(path); !dirs.has(d); d = dirname(d)) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      dirs.add(d);
    }
    writeFileSync(path, f.bytes, { mode: 0o600, flag: "wx" });
    chmodSync(path, FILE_MODE);
  }
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) chmodSync(d, DIR_MODE);
}

/** Remove a tree made read-only by `writeTree` (or planted by someone). */
export function removeTree(dir: string): void {
  try {
    const st = lstatSync(dir);
    if (st.isDirectory() && !st.isSymbolicLink()) {
      chmodSync(dir, 0o700);
      for (const name of readdirSync(dir)) removeTree(join(dir, name));
    }
  } catch {
    // gone, or not ours: rmSync reports what matters
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The verified tree of `files` under `root` in `assets-<hash>`: used as is when it matches,
 * else (missing, planted, edited, wrong modes) extracted again. `onRepair` hears why.
 */
export function ensureAssets(files: readonly AssetFile[], root: string, hash: string, options: { manifest?: AssetManifest; onRepair?: (why: string) => void } = {}): string {
  const manifest = options.manifest ?? manifestOf(files);
  const actual = manifestOf(files);
  const wrong = Object.keys(manifest).find((n) => actual[n] !== manifest[n]) ?? Object.keys(actual).find((n) => !(n in manifest));
  if (wrong) throw new SnakepitError("internal", `This binary's embedded asset "${wrong}" does not match the hash it was built with: the binary is damaged`);
  secureCacheRoot(root);
  const target = join(resolve(root), `assets-${hash}`);
  if (lstatSync(target, { throwIfNoEntry: false })) purgeBytecode(target);
  let problem = lstatSync(target, { throwIfNoEntry: false }) ? verifyTree(target, manifest) : "not extracted yet";
  if (problem === undefined) return target;
  const tmp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    writeTree(files, tmp);
    if (problem !== "not extracted yet") {
      options.onRepair?.(problem);
      const aside = `${target}.bad-${process.pid}-${Math.random().toString(36).slice(2)}`;
      renameSync(target, aside);
      removeTree(aside);
    }
    renameSync(tmp, target);
  } catch (err) {
    removeTree(tmp);
    // Another instance extracted (or repaired) the same hash first: accept it only if it verifies.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const until = Date.now() + 2_000;
    while ((problem = verifyTree(target, manifest)) !== undefined && Date.now() < until) Atomics.wait(pause, 0, 0, 20);
    if (problem !== undefined) throw refuse(root, `"${target}" cannot be repaired (${problem}): ${(err as Error).message}`);
  }
  const after = verifyTree(target, manifest);
  if (after !== undefined) throw refuse(root, `"${target}" does not verify after extraction (${after})`);
  return target;
}

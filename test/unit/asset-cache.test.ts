// The extracted asset cache (issue 10 point 6): private modes whatever the umask, verified against
// the binary's hashes at each launch; a planted or edited file never runs.
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AssetFile, ensureAssets, manifestOf, removeTree, verifyTree } from "../../src/cli/asset-cache.ts";
import { PYTHON } from "../helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const FILES: AssetFile[] = [
  { name: "python/snakepit_bridge/__init__.py", bytes: enc("VALUE = 'genuine'\n") },
  { name: "python/snakepit_bridge/util/__init__.py", bytes: enc("") },
  { name: "examples/adapters/demo.py", bytes: enc("print('demo')\n") },
];

function withUmask<T>(mask: number, fn: () => T): T {
  const old = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

function scratch(): { root: string; [Symbol.dispose](): void } {
  const base = mkdtempSync(join(tmpdir(), "snakepit-assets-"));
  return { root: join(base, "cache"), [Symbol.dispose]: () => removeTree(base) };
}

/** Import the bridge from the tree with Python, as a worker would; planted code leaves a marker. */
function importBridge(dir: string, marker: string): string {
  const run = Bun.spawnSync([PYTHON, "-c", "import snakepit_bridge; print(snakepit_bridge.VALUE)"], {
    env: { ...process.env, PYTHONPATH: join(dir, "python"), PYTHONDONTWRITEBYTECODE: "1", MARKER: marker },
  });
  return run.stdout.toString().trim();
}

function modes(dir: string): Set<string> {
  const out = new Set<string>();
  const walk = (p: string) => {
    const st = lstatSync(p);
    out.add(`${st.isDirectory() ? "d" : "f"}${(st.mode & 0o777).toString(8)}:${st.uid === process.getuid!() ? "me" : st.uid}`);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}

describe("ensureAssets()", () => {
  test("under umask 000 every folder and file is private and read-only, owned by the user", () => {
    using s = scratch();
    const dir = withUmask(0o000, () => ensureAssets(FILES, s.root, "h1"));
    expect([...modes(dir)].sort()).toEqual(["d500:me", "f400:me"]);
    expect((lstatSync(s.root).mode & 0o777).toString(8)).toBe("700");
    expect(verifyTree(dir, manifestOf(FILES))).toBeUndefined();
  });

  test("an existing cache folder others can write is made private again", () => {
    using s = scratch();
    mkdirSync(s.root, { recursive: true });
    chmodSync(s.root, 0o777);
    ensureAssets(FILES, s.root, "h1");
    expect((lstatSync(s.root).mode & 0o777).toString(8)).toBe("700");
  });

  const attacks: Array<[string, (dir: string, marker: string) => void, RegExp]> = [
    ["an edited bridge file", (dir, marker) => {
      const f = join(dir, "python/snakepit_bridge/__init__.py");
      chmodSync(f, 0o600);
      writeFileSync(f, `open(${JSON.stringify(marker)}, "w").close()\nVALUE = "evil"\n`);
    }, /__init__\.py (was changed|has mode 600)/],
    ["a planted sitecustomize.py on the path", (dir, marker) => {
      chmodSync(join(dir, "python"), 0o700);
      writeFileSync(join(dir, "python/sitecustomize.py"), `open(${JSON.stringify(marker)}, "w").close()\n`);
      chmodSync(join(dir, "python"), 0o500);
    }, /sitecustomize\.py is not part of this binary/],
    ["a planted module beside the bridge", (dir, marker) => {
      const pkg = join(dir, "python/snakepit_bridge");
      chmodSync(pkg, 0o700);
      writeFileSync(join(pkg, "__init__.pyc"), "x");
      writeFileSync(join(dir, "python/snakepit_bridge.pth"), `import os; open(${JSON.stringify(marker)}, "w").close()\n`);
    }, /not part of this binary|has mode 700/],
    ["a file turned into a symlink", (dir) => {
      const f = join(dir, "examples/adapters/demo.py");
      chmodSync(join(dir, "examples/adapters"), 0o700);
      rmSync(f);
      Bun.spawnSync(["ln", "-s", "/etc/hostname", f]);
      chmodSync(join(dir, "examples/adapters"), 0o500);
    }, /demo\.py is a symbolic link/],
    ["a loosened folder", (dir) => chmodSync(join(dir, "python"), 0o777), /python has mode 777/],
  ];
  for (const [name, attack, why] of attacks) {
    test(`${name} is repaired before anything runs, with a message`, () => {
      using s = scratch();
      const marker = join(s.root, "..", "pwned");
      const dir = withUmask(0o000, () => ensureAssets(FILES, s.root, "h1"));
      attack(dir, marker);
      const repairs: string[] = [];
      const again = withUmask(0o000, () => ensureAssets(FILES, s.root, "h1", { onRepair: (w) => repairs.push(w) }));
      expect(again).toBe(dir);
      expect(repairs).toEqual([expect.stringMatching(why)]);
      expect(verifyTree(again, manifestOf(FILES))).toBeUndefined();
      expect(importBridge(again, marker)).toBe("genuine");
      expect(existsSync(marker)).toBe(false);
      expect(readdirSync(s.root)).toEqual(["assets-h1"]);
    });
  }

  test("a binary whose embedded files do not match the hashes it holds is refused", () => {
    using s = scratch();
    const manifest = { ...manifestOf(FILES), "examples/adapters/demo.py": "0".repeat(64) };
    expect(() => ensureAssets(FILES, s.root, "h1", { manifest })).toThrow(/does not match the hash it was built with/);
  });

  test("a cache folder under a folder others can write (not sticky) is refused with a clear message", () => {
    using s = scratch();
    const shared = join(s.root, "..", "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    expect(() => ensureAssets(FILES, join(shared, "cache"), "h1")).toThrow(/Refusing the asset cache folder .* can be changed by other users .*SNAKEPIT_CACHE_DIR/);
    chmodSync(shared, 0o1777); // sticky, like /tmp: fine
    expect(() => ensureAssets(FILES, join(shared, "cache"), "h1")).not.toThrow();
  });

  test.skipIf(process.getuid?.() !== 0)("a cache folder owned by another user is refused", () => {
    using s = scratch();
    mkdirSync(s.root, { recursive: true, mode: 0o700 });
    chownSync(s.root, 65534, 65534);
    expect(() => ensureAssets(FILES, s.root, "h1")).toThrow(/belongs to uid 65534, not to you/);
  });
});

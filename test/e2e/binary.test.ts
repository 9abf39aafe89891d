import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PYTHON, ROOT, startServer } from "../helpers.ts";
import { buildTinyWheel, TINY_ADAPTER } from "../fixtures/tiny-wheel.ts";

let binary = "";

beforeAll(async () => {
  const out = join(mkdtempSync(join(tmpdir(), "snakepit-build-")), "snakepit");
  const build = Bun.spawn([process.execPath, `${ROOT}scripts/build.ts`, out], { stdout: "pipe", stderr: "pipe" });
  if ((await build.exited) !== 0) throw new Error(`build failed: ${await new Response(build.stderr).text()}`);
  // The binary alone, in an empty folder: nothing from the repo next to it.
  const dir = mkdtempSync(join(tmpdir(), "snakepit-alone-"));
  binary = join(dir, "snakepit");
  copyFileSync(out, binary);
  Bun.spawnSync(["chmod", "+x", binary]);
}, 120_000);

describe("the single executable", () => {
  test("copied alone to an empty folder, serves the example adapter over HTTP", async () => {
    const cache = mkdtempSync(join(tmpdir(), "snakepit-cache-"));
    const server = await startServer([binary, "serve", "--port", "0", "--python", PYTHON], { SNAKEPIT_CACHE_DIR: cache }, join(binary, ".."));
    try {
      const res = await fetch(`${server.url}/v1/execute`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ tool: "add", args: { a: 20, b: 22 } }),
      });
      expect(await res.json()).toEqual({ result: 42 });
      expect(readdirSync(cache).filter((n) => n.startsWith("assets-"))).toHaveLength(1);
      // The read-only bridge's bytecode is kept in the cache (checked-hash pycs), not compiled at each start.
      const [tag] = readdirSync(join(cache, "pycache"));
      expect(readdirSync(join(cache, "pycache", tag!))).toContain("snakepit_bridge.server.pyc");
    } finally {
      server.proc.kill("SIGTERM");
    }
    expect(await server.proc.exited).toBe(0);
    expect(server.output()).toContain("stopped");
  });

  test("two instances starting at once share one extraction safely", async () => {
    const cache = mkdtempSync(join(tmpdir(), "snakepit-cache-"));
    const run = () => Bun.spawn([binary, "exec", "greet", "--args", '{"name":"twin"}', "--python", PYTHON], {
      env: { ...process.env, SNAKEPIT_CACHE_DIR: cache }, stdout: "pipe", stderr: "pipe",
    });
    const procs = [run(), run(), run()];
    const outs = await Promise.all(procs.map((p) => new Response(p.stdout).text()));
    expect(outs).toEqual(Array(3).fill('"Hello, twin!"\n'));
    const dirs = readdirSync(cache);
    expect(dirs.filter((n) => n.startsWith("assets-"))).toHaveLength(1);
    expect(dirs.filter((n) => n.includes(".tmp-"))).toEqual([]);
  });

  test("under umask 000 the cache is private, and a file planted or edited in it never runs", async () => {
    const cache = join(mkdtempSync(join(tmpdir(), "snakepit-cache-")), "cache");
    const marker = join(cache, "..", "pwned");
    const run = () => Bun.spawnSync(["sh", "-c", 'umask 000 && exec "$@"', "sh", binary, "exec", "greet", "--args", '{"name":"safe"}', "--python", PYTHON], {
      env: { ...process.env, SNAKEPIT_CACHE_DIR: cache, PYTHONDONTWRITEBYTECODE: "1" },
    });
    expect(run().stdout.toString()).toBe('"Hello, safe!"\n');
    const assets = readdirSync(cache).find((n) => n.startsWith("assets-"));
    const tree = join(cache, assets!);
    const modes = new Set<string>();
    const walk = (p: string) => {
      const st = lstatSync(p);
      modes.add((st.mode & 0o777).toString(8));
      if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    };
    walk(tree);
    expect([...modes].sort()).toEqual(["400", "500"]);
    expect((lstatSync(cache).mode & 0o777).toString(8)).toBe("700");
    for (const dir of [join(cache, "pycache"), join(cache, "pycache", readdirSync(join(cache, "pycache"))[0]!)]) expect((lstatSync(dir).mode & 0o777).toString(8)).toBe("700");
    // Plant a module Python imports by itself, and edit the bridge.
    const plant = `open(${JSON.stringify(marker)}, "w").close()\n`;
    chmodSync(join(tree, "python"), 0o700);
    writeFileSync(join(tree, "python/sitecustomize.py"), plant);
    const init = join(tree, "python/snakepit_bridge/__init__.py");
    chmodSync(init, 0o600);
    writeFileSync(init, plant, { flag: "a" });
    const again = run();
    expect(again.stdout.toString()).toBe('"Hello, safe!"\n');
    expect(again.stderr.toString()).toContain("did not match this binary");
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(tree, "python/sitecustomize.py"))).toBe(false);
  });

  test("--version and doctor work from the binary", async () => {
    const v = Bun.spawnSync([binary, "--version"]);
    expect(v.stdout.toString().trim()).toMatch(/^\d+\.\d+\.\d+/);
    const d = Bun.spawnSync([binary, "doctor", "--python", PYTHON, "--port", "0"], { env: { ...process.env, SNAKEPIT_CACHE_DIR: mkdtempSync(join(tmpdir(), "c-")) } });
    expect(d.stdout.toString()).toContain("✓ bridge importable");
    expect(d.exitCode).toBe(0);
    expect(existsSync(binary)).toBe(true);
  });
});

describe("the asset cache", () => {
  test("a cache folder others can write to is never run from", async () => {
    const first = mkdtempSync(join(tmpdir(), "snakepit-cache-"));
    Bun.spawnSync([binary, "exec", "pid", "--python", PYTHON], { env: { ...process.env, SNAKEPIT_CACHE_DIR: first } });
    const name = readdirSync(first).find((n) => n.startsWith("assets-"))!;
    const planted = mkdtempSync(join(tmpdir(), "snakepit-cache-"));
    const dir = join(planted, name, "python", "snakepit_bridge");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "__init__.py"), "");
    writeFileSync(join(dir, "__main__.py"), "import sys; print('PLANTED'); sys.exit(3)\n");
    chmodSync(join(planted, name), 0o777);
    const run = Bun.spawnSync([binary, "exec", "greet", "--args", '{"name":"x"}', "--python", PYTHON], { env: { ...process.env, SNAKEPIT_CACHE_DIR: planted } });
    expect(run.stdout.toString()).toBe('"Hello, x!"\n');
    expect(run.stderr.toString()).not.toContain("PLANTED");
  });
});

describe("the single executable's managed environment", () => {
  test("setup from the binary builds a venv offline from --requirements; doctor shows hardware", async () => {
    if (Bun.spawnSync([PYTHON, "-c", "import venv, ensurepip"]).exitCode !== 0) {
      console.log(`skipped: ${PYTHON} lacks venv/ensurepip (apt-get install python3-venv)`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "snakepit-binenv-"));
    try {
      buildTinyWheel(PYTHON, join(dir, "wheelhouse"));
      writeFileSync(join(dir, "requirements.txt"), "tinypkg==0.1.0\n");
      const env = { ...process.env, SNAKEPIT_CACHE_DIR: mkdtempSync(join(tmpdir(), "c-")) };
      const setup = Bun.spawnSync([binary, "setup", "--python", PYTHON, "--requirements", "requirements.txt", "--no-index", "--find-links", "wheelhouse"], { cwd: dir, env });
      const out = setup.stdout.toString();
      expect(out).toContain("✓ venv (default): ");
      expect(out).toContain("✓ packages (default): ");
      expect(out).toMatch(/✓ cpu: .* cores/);
      expect(setup.exitCode).toBe(0);
      writeFileSync(join(dir, "adapter.py"), TINY_ADAPTER);
      const call = Bun.spawnSync([binary, "exec", "greet", "--config", "snakepit.toml", "--adapter", "adapter.py"], { cwd: dir, env });
      expect(call.stdout.toString()).toBe('"hello from tinypkg"\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

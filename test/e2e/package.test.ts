// The package as users install it: `npm pack`, then README's "Use it in your project" snippets run
// in fresh projects in temporary folders outside the repo (Bun, Deno, npx without Bun, pip).
import { beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PYTHON, ROOT, startServer, waitUntil } from "../helpers.ts";
import { type Block, runSnippet, sectionBlocks, sh } from "../docs/readme-section.ts";

const blocks = sectionBlocks("Use it in your project");
const [adapter, program, bunSteps, denoSteps, npxSteps, pipSteps] = blocks as [Block, Block, Block, Block, Block, Block];
const NODE_DIR = dirname(Bun.which("node") ?? "/usr/bin/node");
let tarball = "";
/** A bin folder with just bun and deno (the repo's), for PATH. */
let runtimes = "";

/** A new project folder outside the repo holding the README's adapter and program. */
function project(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `snakepit-${name}-`));
  writeFileSync(join(dir, "adder.py"), adapter.code);
  writeFileSync(join(dir, "main.ts"), program.code);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `app-${name}`, private: true }));
  return dir;
}

const baseEnv = (path: string) => ({ HOME: process.env.HOME ?? "/", PATH: path, SNAKEPIT_PYTHON: PYTHON, NO_COLOR: "1", npm_config_update_notifier: "false", npm_config_audit: "false", npm_config_fund: "false" });
const useTarball = (cmd: string) => cmd.replace(/^(bun add|npm install)( --prefer-offline)? snakepit$/, `$1$2 ${tarball}`);

beforeAll(async () => {
  const out = mkdtempSync(join(tmpdir(), "snakepit-pack-"));
  const pack = await sh(`npm pack --silent --pack-destination ${out}`, ROOT, { ...process.env });
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.out}\n${pack.err}`);
  tarball = join(out, readdirSync(out).find((f) => f.endsWith(".tgz"))!);
  runtimes = mkdtempSync(join(tmpdir(), "snakepit-runtimes-"));
  for (const tool of ["bun", "bunx", "deno"]) symlinkSync(join(ROOT, "node_modules/.bin", tool), join(runtimes, tool));
}, 120_000);

describe("the packed package", () => {
  test("README's section has the snippets this test runs", () => {
    expect(blocks.map((b) => b.lang)).toEqual(["python", "ts", "sh", "sh", "sh", "sh"]);
  });

  test("holds built JS and types, the launcher, the bridge with its pyproject; no tests", async () => {
    const list = (await sh(`tar tzf ${tarball}`, ROOT, { ...process.env })).out.split("\n");
    for (const f of ["package/dist/mod.js", "package/dist/mod.d.ts", "package/bin/snakepit.js", "package/src/cli/main.ts",
      "package/python/snakepit_bridge/__init__.py", "package/python/pyproject.toml", "package/python/_backend/snakepit_backend.py"]) {
      expect(list).toContain(f);
    }
    expect(list.filter((f) => /\/test\/|__pycache__|\.pyc$|python\/tests\//.test(f))).toEqual([]);
  });

  test("Bun: bun add, import it, and bunx snakepit", async () => {
    const dir = project("bun");
    await runSnippet(bunSteps.code, dir, baseEnv(`${runtimes}:${NODE_DIR}:/usr/bin:/bin`), useTarball);
  }, 180_000);

  /** One npm project for the Deno and npx tests (one slow npm install, not two). */
  let npmDir = "";
  test("Deno: npm install, then deno run with node_modules", async () => {
    const dir = (npmDir = project("npm"));
    await runSnippet(denoSteps.code, dir, baseEnv(`${runtimes}:${NODE_DIR}:/usr/bin:/bin`), useTarball);
  }, 180_000);

  test("npx snakepit works with no Bun on PATH, and pip installs the bridge offline", async () => {
    const dir = npmDir || project("npm");
    const path = `${NODE_DIR}:/usr/bin:/bin`;
    expect(Bun.spawnSync(["bash", "-c", "command -v bun || true"], { env: { PATH: path } }).stdout.toString()).toBe("");
    await runSnippet(`npm install --prefer-offline snakepit`, dir, baseEnv(path), useTarball);
    await runSnippet(npxSteps.code, dir, baseEnv(path));
    // The launcher passes SIGTERM on: the server drains and exits 0; Ctrl-C (SIGINT to the whole
    // group) reaches the server once, so it stops gracefully too.
    for (const [signal, group] of [["SIGTERM", false], ["SIGINT", true]] as const) {
      const launcher = [join(dir, "node_modules/.bin/snakepit"), "serve", "--port", "0"];
      // setsid: the launcher leads its own process group, as a shell's foreground job does.
      const server = await startServer(group ? ["setsid", ...launcher] : launcher, { ...baseEnv(path) }, dir);
      await waitUntil(() => server.output().includes("\ntry: "), 10_000); // signal handlers are set from here on
      process.kill(group ? -server.proc.pid : server.proc.pid, signal);
      const code = await server.proc.exited;
      expect({ signal, code, output: server.output() }).toEqual({ signal, code: 0, output: expect.stringContaining("\nstopped\n") });
    }
    const venv = Bun.spawnSync([PYTHON, "-c", "import ensurepip, venv"]);
    if (venv.exitCode !== 0) {
      console.log("skip: the pip snippet needs python3-venv (ensurepip) for", PYTHON);
      return;
    }
    await runSnippet(pipSteps.code.replaceAll("python3 -m venv", `${PYTHON} -m venv`), dir, baseEnv(path));
    // Workers run on the pip-installed bridge when the host points at no bridge folder of its own.
    writeFileSync(join(dir, "where.py"), "import snakepit_bridge\nfrom snakepit_bridge import tool\n\n\n@tool\ndef where() -> str:\n    return snakepit_bridge.__file__\n");
    writeFileSync(join(dir, "where.ts"), `import { Snakepit } from "snakepit";
await using pit = await Snakepit.start({ adapter: "./where.py", python: ".venv/bin/python", poolSize: 1 });
console.log(await pit.execute("where", {}));
`);
    const empty = mkdtempSync(join(tmpdir(), "snakepit-nobridge-"));
    const where = Bun.spawnSync([process.execPath, "where.ts"], { cwd: dir, env: { ...baseEnv(path), SNAKEPIT_BRIDGE_DIR: empty } });
    expect(where.stdout.toString()).toMatch(new RegExp(`^${dir}/\\.venv/lib/python3\\.\\d+/site-packages/snakepit_bridge/__init__\\.py\\n$`));
  }, 180_000);

  test("the launcher says clearly when there is no Bun for this machine", () => {
    const dir = mkdtempSync(join(tmpdir(), "snakepit-nobun-"));
    mkdirSync(join(dir, "bin"));
    copyFileSync(join(ROOT, "bin/snakepit.js"), join(dir, "bin/snakepit.js"));
    copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
    const r = Bun.spawnSync([join(NODE_DIR, "node"), join(dir, "bin/snakepit.js"), "--version"], { env: { PATH: `${NODE_DIR}:/usr/bin:/bin` } });
    expect(r.exitCode).toBe(69);
    expect(r.stderr.toString()).toContain(`no Bun runtime for ${process.platform}-${process.arch}`);
    expect(r.stderr.toString()).toContain("download the single binary for your platform");
  });
});

describe("package metadata", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const deno = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));

  test("every package src/ imports is a dependency, mapped in deno.json at the same range", () => {
    const files = (Bun.spawnSync(["git", "ls-files", "src"], { cwd: ROOT }).stdout.toString().trim().split("\n")).filter((f) => f.endsWith(".ts"));
    const bare = new Set<string>();
    for (const f of files) {
      for (const m of readFileSync(join(ROOT, f), "utf8").matchAll(/(?:from|import\()\s*"((?:@[\w.-]+\/)?[\w-][\w.-]*)(?:\/[^"]*)?"/g)) {
        if (!m[1]!.startsWith("node:") && m[1] !== "snakepit" && m[1] !== "bun") bare.add(m[1]!);
      }
    }
    for (const name of bare) {
      expect({ name, range: pkg.dependencies[name] }).toEqual({ name, range: expect.any(String) });
      expect(deno.imports[name]).toBe(`npm:${name}@${pkg.dependencies[name]}`);
    }
  });

  test("engines name the runtimes it runs on, versions agree everywhere", () => {
    expect(Object.keys(pkg.engines).sort()).toEqual(["bun", "deno"]);
    expect(deno.version).toBe(pkg.version);
    expect(readFileSync(join(ROOT, "python/pyproject.toml"), "utf8")).toContain(`version = "${pkg.version}"`);
    expect(readFileSync(join(ROOT, "python/snakepit_bridge/__init__.py"), "utf8")).toContain(`__version__ = "${pkg.version}"`);
  });
});

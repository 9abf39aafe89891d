// First-run papercuts (issue 11 point 5), one regression test each, run as a new user would.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, fixture, PYTHON, ROOT, startServer, waitUntil } from "../helpers.ts";

const BUN = process.execPath;
const MAIN = join(ROOT, "src/cli/main.ts");
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `snakepit-${name}-`));

/** The JSON error line `exec` writes to stderr (log lines are JSON too: pick the one with a code). */
function execError(stderr: string): { code: string; message: string; details: Record<string, unknown> } {
  const line = stderr.trim().split("\n").reverse().find((l) => l.startsWith('{"code"'));
  if (!line) throw new Error(`no JSON error line in stderr:\n${stderr}`);
  return JSON.parse(line);
}

describe("serve and ./snakepit.toml", () => {
  test("serve loads ./snakepit.toml from the working directory and says so", async () => {
    const dir = tmp("toml");
    writeFileSync(join(dir, "snakepit.toml"), `adapter = "${fixture("echo.py")}"\npool_size = 1\n[server]\nport = 0\n`);
    const server = await startServer([BUN, MAIN, "serve"], {}, dir);
    try {
      const { pools } = await (await fetch(`${server.url}/v1/pools`)).json();
      expect(pools.map((p: { adapter: string; poolSize?: number }) => p.adapter)).toEqual([fixture("echo.py")]);
      expect(server.output()).toContain(`config: ${join(dir, "snakepit.toml")} (found in the working directory`);
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
  });

  test("without a config file, serve says it serves the built-in example", async () => {
    const r = await cli(["serve", "--port", "0", "--once"], { cwd: tmp("nocfg") });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("config: none (no snakepit.toml here): serving the built-in example adapter");
  });

  test("`setup` then `serve` in the same folder serves what setup wrote", async () => {
    const dir = tmp("setup-serve");
    const held = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("busy") });
    try {
      // The port setup prefers is taken: it writes the next free one, and doctor passes.
      const r = await cli(["setup", "--port", String(held.port)], { cwd: dir });
      expect(r.stdout).toContain(`port ${held.port} is in use here`);
      expect(r.stdout).toContain("all checks passed");
      expect(r.code).toBe(0);
      expect(readFileSync(join(dir, "snakepit.toml"), "utf8")).not.toContain(`port = ${held.port}\n`);
    } finally {
      held.stop(true);
    }
    const served = await cli(["serve", "--once", "--port", "0"], { cwd: dir });
    expect(served.stdout).toContain(`config: ${join(dir, "snakepit.toml")}`);
    expect(served.code).toBe(0);
  });
});

describe("adapter load errors name the cause first", () => {
  const dir = tmp("bad-adapters");
  writeFileSync(join(dir, "syntax.py"), "from snakepit_bridge import tool\n\ndef broken(:\n    pass\n");
  writeFileSync(join(dir, "imports.py"), "import snakepit_no_such_module_xyz\n");
  writeFileSync(join(dir, "noclass.py"), "from snakepit_bridge import Adapter\n\nclass Real(Adapter):\n    pass\n");

  test("a missing file is config_invalid naming the absolute path; no Python starts", async () => {
    const r = await cli(["exec", "x", "--adapter", "nope.py"], { cwd: dir });
    const err = execError(r.stderr);
    expect(err.code).toBe("config_invalid");
    expect(err.message).toStartWith(`adapter file not found: ${join(dir, "nope.py")}`);
    expect(r.stderr).not.toContain("Traceback");
    expect(r.code).not.toBe(0);
  });

  const cases: Array<[string, string, RegExp]> = [
    ["a SyntaxError, at file:line", "syntax.py", /^SyntaxError: .* at .*syntax\.py:3\n/],
    ["an import error, at the importing line", "imports.py", /^ModuleNotFoundError: No module named 'snakepit_no_such_module_xyz' at .*imports\.py:1\n/],
    ["a missing class", "noclass.py:Missing", /^ImportError: adapter class 'Missing' not found in .*noclass\.py\n/],
  ];
  for (const [name, adapter, first] of cases) {
    test(name, async () => {
      const r = await cli(["exec", "x", "--adapter", join(dir, adapter)]);
      const err = execError(r.stderr);
      expect(err.code).toBe("worker_spawn_failed");
      expect(err.message).toMatch(first);
      expect(err.message).toContain("Traceback"); // the whole story follows the cause
    });
  }

  test("doctor shows the cause and a fix for it, not 'the error above'", async () => {
    const syntax = await cli(["doctor", "--adapter", join(dir, "syntax.py"), "--port", "0"]);
    expect(syntax.stdout).toMatch(/✗ adapter \(default\): SyntaxError: .* at .*syntax\.py:3/);
    expect(syntax.stdout).toMatch(/fix: fix the syntax at .*syntax\.py:3/);
    const imports = await cli(["doctor", "--adapter", join(dir, "imports.py"), "--port", "0"]);
    expect(imports.stdout).toContain(`fix: install it for this interpreter (${PYTHON} -m pip install snakepit_no_such_module_xyz)`);
    const missing = await cli(["doctor", "--adapter", "nope.py", "--port", "0"], { cwd: dir });
    expect(missing.stdout).toContain(`adapter file not found: ${join(dir, "nope.py")}`);
    for (const out of [syntax.stdout, imports.stdout, missing.stdout]) expect(out).not.toContain("above");
  });
});

describe("exec and serve output", () => {
  test("exec writes its errors to stderr as one JSON object, as its help says", async () => {
    const bad = await cli(["exec", "add", "--args", "{"]);
    expect(execError(bad.stderr)).toMatchObject({ code: "invalid_argument", details: { field: "args" } });
    const py = await cli(["exec", "add", "--args", '{"a":"x"}']);
    expect(execError(py.stderr)).toMatchObject({ code: "invalid_argument", details: { field: "a", tool: "add" } });
    expect(py.stdout).toBe("");
  });

  test("the banner's example call is one the adapter has, and it works as printed", async () => {
    const dir = tmp("banner");
    writeFileSync(join(dir, "shout.py"), 'from snakepit_bridge import tool\n\n@tool\ndef shout(text: str) -> str:\n    return text.upper()\n');
    const server = await startServer([BUN, MAIN, "serve", "--port", "0", "--adapter", "shout.py", "--pool-size", "1"], {}, dir);
    try {
      await waitUntil(() => /^try: .*\n/m.test(server.output()), 10_000); // it follows the listening line
      const line = server.output().split("\n").find((l) => l.startsWith("try: "));
      expect(line).toBeDefined();
      expect(line).not.toContain('"add"');
      const run = Bun.spawnSync(["bash", "-c", line!.slice(5)]);
      expect(JSON.parse(run.stdout.toString())).toEqual({ result: "TEXT" });
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
  });

  test("`new adapter` prints a test command that passes as generated (no install needed)", async () => {
    const dir = join(tmp("scaffold"), "my adapters");
    const r = await cli(["new", "adapter", "sentiment", "--dir", dir], { cwd: tmpdir() });
    expect(r.code).toBe(0);
    const command = r.stdout.split("\n").find((l) => l.startsWith("test: "))!.slice("test: ".length);
    // A clean environment: nothing on PYTHONPATH but what the printed command sets.
    const run = Bun.spawnSync(["bash", "-c", command], { cwd: tmpdir(), env: { PATH: "/usr/bin:/bin", HOME: process.env.HOME ?? "/" } });
    expect(run.stderr.toString()).toMatch(/Ran 2 tests in .*\n\nOK\n$/);
    expect(run.exitCode).toBe(0);
  });
});

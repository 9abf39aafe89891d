import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, fixture, PYTHON, ROOT, startServer } from "../helpers.ts";

const BUN = process.execPath;
const MAIN = `${ROOT}src/cli/main.ts`;

describe("snakepit CLI", () => {
  test("--version and --help", async () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8"));
    expect((await cli(["--version"])).stdout.trim()).toBe(`${pkg.version} (bun ${Bun.version})`);
    for (const cmd of ["serve", "exec", "status", "doctor", "setup", "new"]) {
      const r = await cli([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`usage: snakepit ${cmd}`);
    }
    const main = await cli(["--help"]);
    expect(main.stdout).toContain("commands:");
  });

  test("an unknown command or flag exits 64 with a message", async () => {
    const r = await cli(["frobnicate"]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    const flag = await cli(["exec", "add", "--nope"]);
    expect(flag.code).toBe(64);
    expect(flag.stderr).toContain("--nope");
  });

  test("exec prints the result as JSON and exits 0", async () => {
    const r = await cli(["exec", "add", "--args", '{"a":2,"b":3}']);
    expect(r).toMatchObject({ code: 0, stdout: "5\n" });
  });

  test("exec --stream prints one JSON line per chunk", async () => {
    const r = await cli(["exec", "count", "--args", '{"n":3}', "--stream"]);
    expect(r.stdout).toBe('{"i":0}\n{"i":1}\n{"i":2}\n');
  });

  test("exec errors go to stderr with an exit code from the error code", async () => {
    const bad = await cli(["exec", "add", "--args", '{"a":"x"}']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain("invalid_argument");
    expect((await cli(["exec", "nope"])).code).toBe(65);
    expect((await cli(["exec", "fail"])).code).toBe(70);
    const json = await cli(["exec", "add", "--args", "{oops"]);
    expect(json.code).toBe(64);
    expect(json.stderr).toContain("--args is not valid JSON");
    const cfg = await cli(["exec", "add", "--pool-size", "0"]);
    expect(cfg.code).toBe(78);
    expect(cfg.stderr).toContain("--pool-size: poolSize");
  });

  test("doctor passes on a good setup", async () => {
    const r = await cli(["doctor", "--port", "0"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("✓ interpreter (default)");
    expect(r.stdout).toContain("✓ adapter (default)");
    expect(r.stdout).toContain("tools add, async_add, count");
    expect(r.stdout).toContain("all checks passed");
  });

  test("doctor names a missing interpreter and how to fix it", async () => {
    const r = await cli(["doctor", "--python", "/nonexistent/python3", "--port", "0"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✗ interpreter (default)");
    expect(r.stdout).toContain("/nonexistent/python3");
    expect(r.stdout).toContain("fix: install Python 3.9+");
  });

  test("doctor names an adapter that fails to import", async () => {
    const r = await cli(["doctor", "--adapter", fixture("crash_on_start.py"), "--port", "0"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✗ adapter (default)");
    expect(r.stdout).toContain("RuntimeError: model file weights.bin is missing");
  });

  test("new adapter writes an adapter and a test that pass as generated", async () => {
    const dir = mkdtempSync(join(tmpdir(), "snakepit-new-"));
    const r = await cli(["new", "adapter", "sentiment", "--dir", dir]);
    expect(r.code).toBe(0);
    const unit = Bun.spawnSync([PYTHON, "-m", "unittest", "test_sentiment.py"], { cwd: dir, env: { ...process.env, PYTHONPATH: `${ROOT}python` } });
    expect(unit.exitCode).toBe(0);
    const served = await cli(["exec", "greet", "--adapter", join(dir, "sentiment.py"), "--args", '{"name":"Ada"}']);
    expect(served.stdout).toBe('"hello, Ada"\n');
    const again = await cli(["new", "adapter", "sentiment", "--dir", dir]);
    expect(again.code).toBe(64);
    expect(again.stderr).toContain("already exists");
    expect((await cli(["new", "adapter", "Bad-Name", "--dir", dir])).stderr).toContain("lower_snake_case");
    expect((await cli(["new", "adapter", "json", "--dir", dir])).stderr).toContain("is a Python module already");
  });

  test("setup writes snakepit.toml and runs doctor", async () => {
    const dir = mkdtempSync(join(tmpdir(), "snakepit-setup-"));
    const r = await cli(["setup"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "snakepit.toml"), "utf8")).toContain("pool_size = 2");
    expect(r.stdout).toContain("all checks passed");
  });

  test("serve refuses a non-loopback bind without a token", async () => {
    const r = await cli(["serve", "--host", "0.0.0.0", "--port", "0"]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("Refusing to bind 0.0.0.0 without a token");
  });

  test("serve takes a TOML file, then SNAKEPIT_* env, then flags (flags win)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "snakepit-cfg-"));
    const file = join(dir, "snakepit.toml");
    writeFileSync(file, `adapter = "${fixture("echo.py")}"\npool_size = 1\n[server]\nport = 0\n`);
    const server = await startServer([BUN, MAIN, "serve", "--config", file, "--pool-size", "3"], { SNAKEPIT_POOL_SIZE: "2" });
    try {
      const { pools } = await (await fetch(`${server.url}/v1/pools`)).json();
      expect(pools[0]).toMatchObject({ size: 3, adapter: fixture("echo.py") });
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
    // Flags and environment win over [[pools]] entries too; nested snake_case keys work.
    writeFileSync(file, `[server]\nport = 0\n[heartbeat]\ninterval_ms = 500\n[[pools]]\nname = "a"\nadapter = "${fixture("echo.py")}"\npool_size = 1\n`);
    const pooled = await startServer([BUN, MAIN, "serve", "--config", file, "--pool-size", "2"]);
    try {
      const { pools: p } = await (await fetch(`${pooled.url}/v1/pools`)).json();
      expect(p[0]).toMatchObject({ name: "a", size: 2 });
    } finally {
      pooled.proc.kill("SIGTERM");
      await pooled.proc.exited;
    }
    writeFileSync(file, `adapter = "${fixture("echo.py")}"\nhost = "0.0.0.0"\n`);
    const misplaced = await cli(["serve", "--config", file]);
    expect(misplaced.code).toBe(78);
    expect(misplaced.stderr).toContain('"host" belongs under [server]');
    writeFileSync(file, `adapter = "${fixture("echo.py")}"\npool_size = 1\n[server]\nport = 0\n`);
    const bad = await cli(["serve", "--config", file], { env: { SNAKEPIT_POOL_SIZE: "lots" } });
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('SNAKEPIT_POOL_SIZE: expected a number, got "lots"');
    writeFileSync(file, `adapter = "${fixture("echo.py")}"\npool_size = -1\n`);
    const badFile = await cli(["serve", "--config", file]);
    expect(badFile.stderr).toContain(`${file}: poolSize`);
  });

  test("serve stops on SIGTERM: in-flight calls finish, exit 0, no worker left", async () => {
    const server = await startServer([BUN, MAIN, "serve", "--port", "0"]);
    const pids = (await (await fetch(`${server.url}/v1/workers`)).json()).workers.map((w: { pid: number }) => w.pid);
    const inflight = fetch(`${server.url}/v1/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ tool: "sleep", args: { ms: 400 } }) });
    await Bun.sleep(100);
    server.proc.kill("SIGTERM");
    const res = await inflight;
    expect(await res.json()).toEqual({ result: 400 });
    expect(await server.proc.exited).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });

  test("status shows pools and workers of a running server", async () => {
    const server = await startServer([BUN, MAIN, "serve", "--port", "0", "--token", "tok-12345678"]);
    try {
      const r = await cli(["status", "--url", server.url, "--token", "tok-12345678"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("default  2/2");
      expect(r.stdout).toContain("default-1");
      const denied = await cli(["status", "--url", server.url]);
      expect(denied.code).toBe(77);
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
    const down = await cli(["status", "--url", "http://127.0.0.1:9"]);
    expect(down.code).toBe(69);
    expect(down.stderr).toContain("Cannot reach a snakepit server");
  });

  test("a port in use is reported with what to do", async () => {
    const server = await startServer([BUN, MAIN, "serve", "--port", "0"]);
    try {
      const port = new URL(server.url).port;
      const r = await cli(["serve", "--port", port]);
      expect(r.code).toBe(78);
      expect(r.stderr).toContain(`Port ${port} on 127.0.0.1 is in use`);
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
  });
});

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Snakepit } from "../../src/snakepit.ts";
import { checkInstalled } from "../../src/python-env/check.ts";
import { cli, PYTHON } from "../helpers.ts";
import { buildTinyWheel, TINY_ADAPTER } from "../fixtures/tiny-wheel.ts";

// A venv needs the venv module and ensurepip (Debian: python3-venv); the test skips without them.
const venvMissing = Bun.spawnSync([PYTHON, "-c", "import venv, ensurepip"]).exitCode !== 0;
const dir = mkdtempSync(join(tmpdir(), "snakepit-venv-"));

beforeAll(() => {
  buildTinyWheel(PYTHON, join(dir, "wheelhouse"));
  writeFileSync(join(dir, "requirements.txt"), "# the app's packages\ntinypkg==0.1.0\n");
  writeFileSync(join(dir, "adapter.py"), TINY_ADAPTER);
  writeFileSync(join(dir, "snakepit.toml"), `adapter = "adapter.py"
python = ${JSON.stringify(PYTHON)}
requirements = "requirements.txt"
pool_size = 1

[install]
no_index = true
find_links = ["wheelhouse"]
`);
});
// A venv holds thousands of files: removing it on a loaded machine takes seconds.
afterAll(() => rmSync(dir, { recursive: true, force: true }), 120_000);

describe("snakepit setup with requirements", () => {
  test("builds a venv offline, workers import the package, a repeat is a no-op, doctor flags a missing package", async () => {
    if (venvMissing) {
      console.log(`skipped: ${PYTHON} lacks venv/ensurepip (apt-get install python3-venv)`);
      return;
    }
    const first = await cli(["setup", "--config", "snakepit.toml"], { cwd: dir });
    expect(first.stdout).toContain("✓ venv (default): ");
    expect(first.stdout).toMatch(/created with (pip|uv) in/);
    expect(first.stdout).toContain("✓ packages (default): ");
    expect(first.code).toBe(0);
    const venv = join(dir, ".snakepit", "venv");
    const lock = JSON.parse(readFileSync(join(venv, "snakepit-lock.json"), "utf8"));
    expect(lock).toMatchObject({ version: 1, interpreter: { path: expect.any(String) }, packages: { tinypkg: "0.1.0" } });
    expect(lock.requirements.sha256).toMatch(/^[0-9a-f]{64}$/);

    const again = await cli(["setup", "--config", "snakepit.toml"], { cwd: dir });
    expect(again.stdout).toContain("up to date (lock matches; nothing to do)");
    expect(JSON.parse(readFileSync(join(venv, "snakepit-lock.json"), "utf8")).createdAt).toBe(lock.createdAt);

    const states = await checkInstalled(join(venv, "bin", "python"), ["tinypkg==0.2.0", "tinypkg>=0.1", "absent-pkg", "./local-dir"]);
    expect(states.map((x) => [x.name, x.ok, x.problem])).toEqual([
      ["tinypkg", false, "version 0.1.0 does not satisfy ==0.2.0"],
      ["tinypkg", true, undefined],
      ["absent-pkg", false, "missing"],
      [null, true, "not checked: a path without a package name"],
    ]);

    await using pit = await Snakepit.start({ adapter: join(dir, "adapter.py"), python: PYTHON, requirements: join(dir, "requirements.txt"), install: { noIndex: true, findLinks: [join(dir, "wheelhouse")] } });
    expect(await pit.execute("greet", {})).toBe("hello from tinypkg");
    await pit.close();

    const rm = Bun.spawnSync([join(venv, "bin", "python"), "-m", "pip", "uninstall", "-y", "-q", "tinypkg"]);
    expect(rm.exitCode).toBe(0);
    const doctor = await cli(["doctor", "--config", "snakepit.toml"], { cwd: dir });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain("✗ packages (default): ");
    expect(doctor.stdout).toContain("tinypkg: missing");
    expect(doctor.stdout).toContain("fix: snakepit setup --config snakepit.toml");
    expect(existsSync(join(venv, "bin", "python"))).toBe(true);
  }, 240_000);

  test("setup fails clearly when a requirement cannot be found offline", async () => {
    if (venvMissing) {
      console.log(`skipped: ${PYTHON} lacks venv/ensurepip`);
      return;
    }
    const sub = join(dir, "bad");
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, "requirements.txt"), "no-such-package-snakepit==9.9\n");
    writeFileSync(join(sub, "snakepit.toml"), `adapter = "../adapter.py"\npython = ${JSON.stringify(PYTHON)}\nrequirements = "requirements.txt"\n\n[install]\nno_index = true\n`);
    const r = await cli(["setup", "--config", "snakepit.toml"], { cwd: sub });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✗ venv (default): installing");
    expect(r.stdout).toContain("no-such-package-snakepit");
  }, 240_000);
});

// The README promises Python >= 3.9: the Python tests and an end-to-end call run on every interpreter
// present (pyenv's real binaries, not its shims), each skipped with a printed reason when absent.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { Snakepit } from "../../src/snakepit.ts";
import { fixture, ROOT } from "../helpers.ts";

const PYENV = `${process.env.PYENV_ROOT ?? "/root/.pyenv"}/versions`;
const installed = existsSync(PYENV) ? readdirSync(PYENV) : [];

describe("every supported interpreter", () => {
  for (const minor of ["3.9", "3.10", "3.11", "3.12", "3.13"]) {
    const version = installed.filter((v) => v === minor || v.startsWith(`${minor}.`) || v.startsWith(`${minor}t`)).sort().pop();
    const python = version ? `${PYENV}/${version}/bin/python` : undefined;
    test(`Python ${minor}: unit tests and an end-to-end call`, async () => {
      if (!python || !existsSync(python)) {
        console.log(`skipped: no Python ${minor} under ${PYENV}`);
        return;
      }
      const unit = Bun.spawnSync([python, "-m", "unittest", "discover", "-s", "python/tests", "-t", "python"], { cwd: ROOT, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
      const text = unit.stderr.toString();
      if (unit.exitCode !== 0) console.log(text.slice(-3000));
      expect(unit.exitCode).toBe(0);
      expect(text).toMatch(/^Ran \d+ tests/m);
      await using pit = await Snakepit.start({ adapter: fixture("echo.py"), python, poolSize: 1 });
      expect(await pit.execute("echo", { value: { minor, list: [1, 2.5, "x"] } })).toEqual({ minor, list: [1, 2.5, "x"] });
    }, 120_000);
  }
});

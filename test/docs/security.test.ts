// SECURITY.md: linked from the README, names tests that exist, and its token-file usage works.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PYTHON, ROOT } from "../helpers.ts";

const security = readFileSync(join(ROOT, "SECURITY.md"), "utf8");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const env = { ...process.env, SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_PORT: "0", NO_COLOR: "1" };

function sh(script: string) {
  const r = Bun.spawnSync(["bash", "-c", script], { cwd: ROOT, env });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("SECURITY.md", () => {
  test("the README has a Security section pointing to it", () => {
    const section = readme.slice(readme.indexOf("## Security"));
    expect(section.slice(0, section.indexOf("\n## ", 3))).toContain("[SECURITY.md](SECURITY.md)");
  });

  test("every test it names exists, and it says what is not defended", () => {
    const named = [...security.matchAll(/`(test\/[\w/.-]+\.test\.ts)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThanOrEqual(5);
    for (const file of named) expect(existsSync(join(ROOT, file))).toBe(true);
    expect(security).toContain("## What is not defended");
    expect(security).toMatch(/Processes of the same user/);
    expect(security).toMatch(/root/);
  });

  test("its token-file usage works: a file (mode 600), a pipe; blank tokens and loose files are refused", () => {
    const serve = "bun src/cli/main.ts serve --once --host 0.0.0.0";
    const viaPipe = sh(`${serve} --token-file <(printf '%s\\n' tok-0123456789abcdef)`);
    expect(viaPipe.out).toContain("snakepit listening on http://0.0.0.0:");
    expect(viaPipe.code).toBe(0);
    const viaFile = sh(`d=$(mktemp -d) && umask 077 && printf 'tok-0123456789abcdef\\n' > $d/token && SNAKEPIT_TOKEN_FILE=$d/token ${serve}; c=$?; rm -r $d; exit $c`);
    expect(viaFile.code).toBe(0);
    const loose = sh(`d=$(mktemp -d) && printf 'tok-0123456789abcdef' > $d/token && chmod 644 $d/token && ${serve} --token-file $d/token; c=$?; rm -r $d; exit $c`);
    expect(loose.code).not.toBe(0);
    expect(loose.err).toContain("can be read by other users (mode 644): run chmod 600");
    const blank = sh(`SNAKEPIT_TOKEN='        ' ${serve}`);
    expect(blank.code).not.toBe(0);
    expect(blank.err).toContain("The token is empty or only whitespace");
  }, 60_000);
});

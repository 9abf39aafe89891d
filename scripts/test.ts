/**
 * The whole check, as CI runs it: generated code is current, types check (tsc and deno check),
 * Bun tests, Python unittest, Deno tests. Prints each suite's counts and a last line
 * "N passed, N failed" summing them all. Exit code 1 when anything failed.
 */

import { PYTHON } from "../test/helpers.ts";

interface Suite {
  name: string;
  cmd: string[];
  /** Turn output + exit code into counts. */
  count(out: string, code: number): { passed: number; failed: number };
  env?: Record<string, string>;
}

const check = (_: string, code: number) => ({ passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1 });
const num = (re: RegExp, text: string) => Number(text.match(re)?.[1] ?? 0);

const only = process.argv.slice(2);
const suites: Suite[] = [
  { name: "generated code is current", cmd: ["bun", "scripts/gen.ts", "--check"], count: check },
  { name: "dashboard assets are current", cmd: ["bun", "scripts/dashboard.ts", "--check"], count: check },
  { name: "tsc --noEmit", cmd: ["tsc", "--noEmit", "-p", "."], count: check },
  { name: "deno check", cmd: ["deno", "check", "src/mod.ts"], count: check },
  {
    name: "bun test",
    cmd: ["bun", "test", "--timeout", "60000", "test/unit", "test/integration", "test/attack", "test/e2e", "test/docs"],
    count: (out, code) => {
      const passed = num(/^\s*(\d+) pass$/m, out);
      const failed = num(/^\s*(\d+) fail$/m, out);
      return { passed, failed: failed || (code !== 0 && passed === 0 ? 1 : failed) };
    },
  },
  {
    name: "python unittest",
    cmd: [PYTHON, "-m", "unittest", "discover", "-s", "python/tests", "-t", "python"],
    count: (out, code) => {
      const ran = num(/^Ran (\d+) tests?/m, out);
      const failed = num(/failures=(\d+)/, out) + num(/errors=(\d+)/, out);
      return { passed: ran - failed, failed: failed || (code !== 0 ? 1 : 0) };
    },
  },
  {
    name: "deno test",
    cmd: ["deno", "test", "--allow-all", "test/deno/"],
    count: (out, code) => {
      const clean = out.replace(/\x1b\[[0-9;]*m/g, "");
      const passed = num(/(\d+) passed/, clean);
      const failed = num(/(\d+) failed/, clean);
      return { passed, failed: failed || (code !== 0 && passed === 0 ? 1 : failed) };
    },
  },
];

let passed = 0;
let failed = 0;
for (const suite of suites) {
  if (only.length && !only.some((o) => suite.name.includes(o))) continue;
  const t0 = performance.now();
  const proc = Bun.spawn(suite.cmd, {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", SNAKEPIT_TEST_PYTHON: PYTHON, ...suite.env },
  });
  const outText = new Response(proc.stdout).text();
  const errText = new Response(proc.stderr).text();
  const code = await proc.exited;
  // A stray grandchild holding the pipes must not hang the whole run: give them 5 s to close.
  const late = new Promise<string>((r) => setTimeout(() => r("\n(output cut: a process left by this suite still holds its pipes)\n"), 5_000));
  const [out, err] = await Promise.all([Promise.race([outText, late]), Promise.race([errText, late])]);
  const text = out + "\n" + err;
  const counts = suite.count(text, code);
  passed += counts.passed;
  failed += counts.failed;
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${counts.failed ? "✗" : "✓"} ${suite.name}: ${counts.passed} passed, ${counts.failed} failed (${secs} s)`);
  if (counts.failed || code !== 0) {
    const lines = text.split("\n").filter((l) => !/^\(pass\)/.test(l));
    console.log(lines.slice(-120).join("\n"));
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0); // also ends any timer left by a cut-off suite

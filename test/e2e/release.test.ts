// `npm run release`: cross-compiled binaries with SHA256SUMS and a build stamp. Builds linux-x64 and
// linux-arm64 here (the full five are `npm run release`); runs the arm64 one under qemu-user.
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PYTHON, ROOT } from "../helpers.ts";
import { runSnippet, sectionBlocks } from "../docs/readme-section.ts";

const out = mkdtempSync(join(tmpdir(), "snakepit-release-"));
const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
const QEMU = Bun.which("qemu-aarch64-static");
const ARM_ROOT = "/usr/aarch64-linux-gnu";
const env = () => ({ ...process.env, SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CACHE_DIR: mkdtempSync(join(tmpdir(), "snakepit-cache-")) });

beforeAll(async () => {
  const build = Bun.spawn([process.execPath, join(ROOT, "scripts/release.ts"), "--targets", "linux-x64,linux-arm64", "--out", out], { stdout: "pipe", stderr: "pipe" });
  const [text, err, code] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text(), build.exited]);
  if (code !== 0) throw new Error(`release failed:\n${text}\n${err}`);
}, 300_000);

describe("npm run release", () => {
  test("writes each binary and a SHA256SUMS that checks", () => {
    const sums = readFileSync(join(out, "SHA256SUMS"), "utf8").trim().split("\n");
    expect(sums.map((l) => l.split(/\s+/)[1])).toEqual(["snakepit-linux-x64", "snakepit-linux-arm64"]);
    const check = Bun.spawnSync(["sha256sum", "--check", "SHA256SUMS"], { cwd: out });
    expect(check.stdout.toString()).toBe("snakepit-linux-x64: OK\nsnakepit-linux-arm64: OK\n");
  });

  test("refuses a platform it cannot build, listing the ones it can", () => {
    const r = Bun.spawnSync([process.execPath, join(ROOT, "scripts/release.ts"), "--targets", "windows-x64", "--out", join(out, "none")]);
    expect(r.exitCode).toBe(64);
    expect(r.stderr.toString()).toContain("unknown target(s) windows-x64; known: linux-x64, linux-x64-musl, linux-arm64, darwin-arm64, darwin-x64");
  });

  test("README's download-and-run snippet works with the linux-x64 file", async () => {
    if (process.platform !== "linux" || process.arch !== "x64") {
      console.log(`skip: the snippet runs the linux-x64 binary; this machine is ${process.platform}-${process.arch}`);
      return;
    }
    // As a user has it: the one file (not executable yet, as downloaded) and SHA256SUMS.
    const downloads = mkdtempSync(join(tmpdir(), "snakepit-download-"));
    for (const f of ["snakepit-linux-x64", "SHA256SUMS"]) copyFileSync(join(out, f), join(downloads, f));
    chmodSync(join(downloads, "snakepit-linux-x64"), 0o644);
    const [snippet] = sectionBlocks("Download the binary");
    await runSnippet(snippet!.code, downloads, env());
  }, 60_000);

  test("the linux-arm64 binary answers --version and doctor --json under qemu", () => {
    if (!QEMU || !existsSync(join(ARM_ROOT, "lib/ld-linux-aarch64.so.1"))) {
      console.log(`skip: needs qemu-aarch64-static and ${ARM_ROOT} (Debian qemu-user-static, libc6-arm64-cross; scripts/optional-deps.sh installs them)`);
      return;
    }
    const arm = [QEMU, "-L", ARM_ROOT, join(out, "snakepit-linux-arm64")];
    const v = Bun.spawnSync([...arm, "--version"], { env: env() });
    expect(v.stdout.toString().trim()).toMatch(new RegExp(`^${version.replaceAll(".", "\\.")} \\(build [0-9a-f]+(-dirty)? linux-arm64 \\d{4}-\\d\\d-\\d\\d\\)$`));
    const d = Bun.spawnSync([...arm, "doctor", "--json", "--port", "0", "--python", PYTHON], { env: env() });
    const report = JSON.parse(d.stdout.toString());
    expect(report).toMatchObject({ ok: true, platform: "linux-arm64" });
    expect(report.checks.find((c: { name: string }) => c.name === "adapter (default)").detail).toContain("tools add");
    expect(d.exitCode).toBe(0);
  }, 120_000);
});

#!/usr/bin/env node
// The `snakepit` command as npm installs it (npx snakepit, bunx snakepit, node_modules/.bin).
// The CLI needs Bun. This launcher runs under Node or Bun, finds a Bun binary — the running one,
// else the one the `bun` npm dependency installed for this platform — and runs the CLI with it,
// passing arguments, stdio, signals and the exit code through. Plain JS on purpose: no build step.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, "..", "src", "cli", "main.ts");
const SUPPORTED = "linux x64/arm64 (glibc or musl), macOS x64/arm64";

/** True when this Linux uses musl (Alpine): the glibc Bun build would not start there. */
function isMusl() {
  if (process.platform !== "linux") return false;
  try {
    return !process.report?.getReport().header.glibcVersionRuntime;
  } catch {
    return existsSync("/etc/alpine-release");
  }
}

/** A real executable (the `bun` package ships a small placeholder until its postinstall runs). */
function isBinary(path) {
  try {
    return statSync(path).size > 1_000_000;
  } catch {
    return false;
  }
}

function findBun() {
  if (process.versions.bun) return process.execPath;
  const require = createRequire(import.meta.url);
  const arch = process.arch === "arm64" ? "aarch64" : process.arch;
  const candidates = [];
  try {
    const pkg = dirname(require.resolve("bun/package.json"));
    candidates.push(join(pkg, "bin", "bun.exe"));
    // Installed without lifecycle scripts (bun add, --ignore-scripts): use the platform package.
    const from = createRequire(join(pkg, "package.json"));
    for (const name of [`@oven/bun-${process.platform}-${arch}${isMusl() ? "-musl" : ""}`, `@oven/bun-${process.platform}-${arch}-baseline`]) {
      try {
        candidates.push(join(dirname(from.resolve(`${name}/package.json`)), "bin", "bun"));
      } catch { /* not installed for this platform */ }
    }
  } catch { /* the bun dependency is missing */ }
  return candidates.find(isBinary);
}

const bun = findBun();
if (!bun) {
  const version = JSON.parse(readFileSync(join(here, "..", "package.json"), "utf8")).version;
  console.error(`snakepit ${version}: no Bun runtime for ${process.platform}-${process.arch}${isMusl() ? " (musl)" : ""}.
The snakepit command runs on Bun, installed with it as the "bun" npm dependency for: ${SUPPORTED}.
Fix: reinstall without --omit=optional / --no-optional, install Bun (https://bun.sh) and run
\`bunx snakepit\`, or download the single binary for your platform (see "Download the binary" in the README).`);
  process.exit(69);
}

const child = spawn(bun, [main, ...process.argv.slice(2)], { stdio: "inherit" });
// Ctrl-C reaches the child from the terminal (same process group): passing SIGINT on as well
// would be a second signal, which forces shutdown. SIGTERM and SIGHUP are sent to us alone.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (err) => {
  console.error(`snakepit: cannot start ${bun}: ${err.message}`);
  process.exit(69);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});

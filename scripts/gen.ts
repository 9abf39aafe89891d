/**
 * Generate TypeScript from proto/ with buf + protoc-gen-es (offline, from node_modules).
 * `--check` regenerates into a temporary folder and fails if src/bridge/gen differs.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const bin = join(root, "node_modules/.bin");
const checking = process.argv.includes("--check");
const out = checking ? mkdtempSync(join(tmpdir(), "snakepit-gen-")) : join(root, "src/bridge/gen");

const template = JSON.stringify({
  version: "v2",
  inputs: [{ directory: "proto" }],
  plugins: [{ local: join(bin, "protoc-gen-es"), out, opt: ["target=ts", "import_extension=ts", "json_types=true"] }],
  clean: true,
});
const proc = Bun.spawn([join(bin, "buf"), "generate", "--template", template], { cwd: root, stdout: "inherit", stderr: "inherit" });
if ((await proc.exited) !== 0) process.exit(1);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

if (checking) {
  const current = join(root, "src/bridge/gen");
  const fresh = files(out).map((f) => relative(out, f)).sort();
  const have = files(current).map((f) => relative(current, f)).sort();
  const stale = fresh.filter((f) => !have.includes(f) || readFileSync(join(out, f), "utf8") !== readFileSync(join(current, f), "utf8"));
  const extra = have.filter((f) => !fresh.includes(f));
  rmSync(out, { recursive: true, force: true });
  if (stale.length || extra.length) {
    console.error(`src/bridge/gen is out of date (${[...stale, ...extra].join(", ")}): run \`bun run gen\``);
    process.exit(1);
  }
  console.log("src/bridge/gen is current");
}

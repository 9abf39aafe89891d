// The TypeScript snippet of docs/shared-memory.md runs and prints the text block after it.
import { afterAll, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { shmEnabled } from "../../src/bridge/shm.ts";
import { PYTHON, ROOT } from "../helpers.ts";

const md = readFileSync(join(ROOT, "docs/shared-memory.md"), "utf8");
const snippet = join(ROOT, "test/docs/.snippet-shared-memory.ts");
afterAll(() => rmSync(snippet, { force: true }));

test.skipIf(!shmEnabled())("docs/shared-memory.md: the Arrow snippet prints what the doc says", async () => {
  const code = /```ts\n([\s\S]*?)```/.exec(md)![1]!;
  const expected = /```ts\n[\s\S]*?```[\s\S]*?```text\n([\s\S]*?)```/.exec(md)![1]!;
  writeFileSync(snippet, code);
  const proc = Bun.spawn([process.execPath, snippet], { cwd: ROOT, env: { ...process.env, SNAKEPIT_PYTHON: PYTHON }, stdout: "pipe", stderr: "pipe" });
  const [out, err, exit] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(err).toBe("");
  expect(exit).toBe(0);
  expect(out).toBe(expected);
}, 60_000);

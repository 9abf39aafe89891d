// The examples run as shipped.
import { expect, test } from "bun:test";
import { PYTHON, ROOT } from "../helpers.ts";

test("examples/ts/chat.ts: a pinned conversation, a stream, an embedding", async () => {
  const proc = Bun.spawn([process.execPath, `${ROOT}examples/ts/chat.ts`], { cwd: ROOT, env: { ...process.env, SNAKEPIT_PYTHON: PYTHON }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(err).toBe("");
  expect(code).toBe(0);
  const lines = out.trim().split("\n");
  expect(lines[0]!.split(" ")).toHaveLength(4);
  expect(lines.slice(1, 3)).toEqual(["2", "5"]);
  expect(["float32 [8]", "bytes 32"]).toContain(lines[3]!);
});

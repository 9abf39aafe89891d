/** Pieces of README.md for tests that run one section's snippets somewhere else (a temp project). */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers.ts";

export interface Block {
  lang: string;
  code: string;
}

/** The fenced blocks of the `## heading` section, in order. */
export function sectionBlocks(heading: string): Block[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const end = readme.indexOf("\n## ", start + 4);
  const body = readme.slice(start, end < 0 ? undefined : end);
  return [...body.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

/** Commands (joined over `\` line ends) and the `# ...` lines after each as its expected output. */
export function commands(code: string): Array<{ cmd: string; expected: string[] }> {
  const out: Array<{ cmd: string; expected: string[] }> = [];
  for (const line of code.replace(/\\\n\s*/g, "").split("\n")) {
    if (!line.trim()) continue;
    if (line.startsWith("# ")) out[out.length - 1]?.expected.push(line.slice(2));
    else out.push({ cmd: line, expected: [] });
  }
  return out;
}

/** Lines match, where "..." in an expected line stands for any text. */
export function matches(actual: string, expected: string): boolean {
  const pattern = expected.split("...").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${pattern}$`).test(actual);
}

/** Run a shell command; resolves with its exit code and output. */
export async function sh(script: string, cwd: string, env: Record<string, string | undefined>): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(["bash", "-c", script], { cwd, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

/** Run each command of a snippet; fails naming the command that fails or prints other than its comment. */
export async function runSnippet(code: string, cwd: string, env: Record<string, string | undefined>, rewrite: (cmd: string) => string = (c) => c): Promise<void> {
  for (const { cmd, expected } of commands(code)) {
    const r = await sh(rewrite(cmd), cwd, env);
    if (r.code !== 0) throw new Error(`\`${cmd}\` exited with ${r.code}:\n${r.out}\n${r.err}`);
    if (expected.length === 0) continue; // no comment after it: its output is not part of the docs (installs)
    const lines = r.out.trim() ? r.out.trim().split("\n") : [];
    const ok = lines.length === expected.length && lines.every((l, i) => matches(l, expected[i]!));
    if (!ok) throw new Error(`\`${cmd}\` printed:\n${r.out}\nexpected:\n${expected.join("\n")}\nstderr:\n${r.err}`);
  }
}

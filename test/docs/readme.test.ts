// Every snippet in README.md runs here, and its printed output is checked.
import { benchTable } from "../../bench/readme-table.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { PYTHON, ROOT, type Server, startServer } from "../helpers.ts";

interface Block {
  lang: string;
  code: string;
}

function blocks(markdown: string): Block[] {
  return [...markdown.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
// The cluster section runs in readme-cluster.test.ts (it needs a NATS server and two nodes).
const all = blocks(readme.replace(/^## Cluster:[\s\S]*?(?=^## )/m, ""));
const written: string[] = [];
const env = { ...process.env, SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_PORT: "0", NO_COLOR: "1" };

async function sh(script: string, cwd = ROOT): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(["bash", "-c", script], { cwd, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

/** Commands (joined over `\` line ends) and the `# ...` lines after each as its expected output. */
function commands(code: string): Array<{ cmd: string; expected: string[] }> {
  const out: Array<{ cmd: string; expected: string[] }> = [];
  for (const line of code.replace(/\\\n\s*/g, "").split("\n")) {
    if (!line.trim()) continue;
    if (line.startsWith("# ")) out[out.length - 1]?.expected.push(line.slice(2));
    else out.push({ cmd: line, expected: [] });
  }
  return out;
}

/** Lines match, where "..." in an expected line stands for any text. */
function matches(actual: string, expected: string): boolean {
  const pattern = expected.split("...").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${pattern}$`).test(actual);
}

beforeAll(() => {
  for (const b of all) {
    const file = /^# file: (\S+)/.exec(b.code)?.[1];
    if (b.lang === "python" && file) {
      writeFileSync(join(ROOT, file), b.code);
      written.push(join(ROOT, file));
    }
  }
});
afterAll(() => {
  for (const f of written) rmSync(f, { force: true });
});

describe("README.md", () => {
  test("has the snippets this test knows about", () => {
    // ...then "Use it in your project" and "Download the binary", run by test/e2e/package.test.ts and release.test.ts.
    expect(all.map((b) => b.lang)).toEqual(["sh", "sh", "ts", "ts", "python", "sh", "sh", "sh", "ts", "ts", "ts", "sh", "text", "python", "ts", "sh", "sh", "sh", "sh", "sh"]);
  });

  test("set-up: `npm start` starts the pool, serves, and shows a real call", async () => {
    expect(all[0]!.code.trim()).toBe("npm install && npm start");
    const r = await sh("npm start --silent -- --once");
    expect(r.code).toBe(0);
    expect(r.out).toContain("snakepit listening on http://127.0.0.1:");
    expect(r.out).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(r.out).toMatch(/demo call: POST \/v1\/execute \{"tool":"add","args":\{"a":1,"b":2\}\} -> 200 \{"result":3\}/);
  });

  test("set-up: the test command is the one .ci/run runs", () => {
    expect(all[1]!.code.trim()).toBe("npm install && npm test");
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).toContain("npm install");
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).toContain("npm test");
  });

  const tsOutputs: Array<Array<string | RegExp>> = [
    ["3", "{", "  i: 0,", "}", "{", "  i: 1,", "}", "{", "  i: 2,", "}", "aborted", "2 2"],
    ["invalid_argument a", "tool 'add': argument a must be a number, got str", "python_exception RuntimeError"],
    ["Bonjour, Ada!", '[ "tensors", 3 ]', /^default-[12]$/],
    ["5", "true"],
    ["{", "  value: 0.5,", "}", "true"],
  ];
  for (const [i, expected] of tsOutputs.entries()) {
    test(`TypeScript snippet ${i + 1} runs and prints what its comments say`, async () => {
      const file = join(ROOT, "test/docs", `.snippet-${i}.ts`);
      writeFileSync(file, all.filter((b) => b.lang === "ts")[i]!.code);
      written.push(file);
      const r = await sh(`${process.execPath} ${file}`);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const lines = r.out.trim().split("\n");
      expect(lines).toHaveLength(expected.length);
      expected.forEach((want, n) => (typeof want === "string" ? expect(lines[n]).toBe(want) : expect(lines[n]).toMatch(want)));
    });
  }

  test("the adapter snippet serves through `exec`", async () => {
    const block = all[5]!;
    const cmd = commands(block.code)[0]!.cmd;
    const r = await sh(cmd);
    expect(r.err).toBe("");
    expect(r.out).toBe("2\n");
    const stream = await sh(`${process.execPath} src/cli/main.ts exec score_many --adapter sentiment.py --args '{"texts":["good","awful"]}' --stream`);
    expect(stream.out).toBe('{"text":"good","score":1}\n{"text":"awful","score":-2}\n');
  });

  describe("HTTP quickstart", () => {
    let server: Server;
    beforeAll(async () => {
      server = await startServer([process.execPath, join(ROOT, "src/cli/main.ts"), "serve", "--port", "0"]);
    });
    afterAll(async () => {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    });
    test("each curl prints what the README shows", async () => {
      const host = new URL(server.url).host;
      for (const { cmd, expected } of commands(all[6]!.code)) {
        const r = await sh(cmd.replaceAll("127.0.0.1:7117", host));
        expect(r.code).toBe(0);
        const lines = r.out.trim().split("\n");
        expect(lines).toHaveLength(expected.length);
        lines.forEach((line, i) => expect(matches(line, expected[i]!)).toBe(true));
      }
    });
  });

  test("the command-line snippets run", async () => {
    const [help, stream, doctor] = commands(all[7]!.code);
    expect((await sh(help!.cmd)).out).toContain("usage: snakepit <command>");
    expect((await sh(stream!.cmd)).out).toBe('{"i":0}\n{"i":1}\n');
    const d = await sh(doctor!.cmd);
    expect(d.code).toBe(0);
    expect(d.out).toContain("all checks passed");
  });

  test("the hardware snippet prints the doctor's cpu and gpus lines; gpu-check prints the lines shown", async () => {
    const block = all.findIndex((b) => b.lang === "text");
    const [{ cmd, expected }] = commands(all[block - 1]!.code) as [{ cmd: string; expected: string[] }];
    const r = await sh(cmd);
    const lines = r.out.trim().split("\n");
    expect(lines).toHaveLength(expected.length);
    lines.forEach((line, i) => expect(matches(line, expected[i]!)).toBe(true));
    // This machine has no GPU, so gpu-check fails its accelerator line; every line it prints has the shape shown.
    const check = await sh(`${process.execPath} scripts/gpu-check.ts`);
    const label = (l: string) => l.slice(2).split(":")[0];
    const shown = all[block]!.code.trim().split("\n").map(label);
    for (const line of check.out.trim().split("\n").slice(0, 5)) expect(shown).toContain(label(line));
  }, 60_000);

  test("the performance table is generated from the recorded results, with ranges", () => {
    const table = benchTable();
    expect(readme).toContain(table);
    expect(table).toContain("median (range)");
    const cmp = JSON.parse(readFileSync(join(ROOT, "bench/results/latest-compare.json"), "utf8"));
    const p50 = cmp.figures.p50Us.snakepit;
    expect(table).toContain(`| small call, p50 (µs) | ${p50.median >= 100 ? Math.round(p50.median) : p50.median >= 10 ? p50.median.toFixed(1) : p50.median.toFixed(2)} (`);
  });
});

describe("docs/configuration.md", () => {
  test("its example file is a valid configuration", async () => {
    const md = readFileSync(join(ROOT, "docs/configuration.md"), "utf8");
    const toml = blocks(md).find((b) => b.lang === "toml")!.code;
    const file = join(ROOT, "test/docs/.example.toml");
    writeFileSync(file, toml);
    written.push(file);
    const config = await loadConfig({ file });
    expect(config.pools.map((p) => [p.name, p.poolSize, p.workerProfile])).toEqual([["default", 4, "process"], ["gpu", 1, "thread"]]);
    expect(config.pools[1]!.env).toEqual({ CUDA_VISIBLE_DEVICES: "0" });
    expect(config.sessions).toMatchObject({ ttlMs: 600_000, maxSessions: 2_000 });
  });

  test("is current with the schemas", async () => {
    expect((await sh(`${process.execPath} scripts/docs.ts --check`)).code).toBe(0);
  });
});

// The README's cluster section, run for real: its NATS config, its node config for two nodes,
// its commands and its TypeScript client, with addresses and ports swapped for free local ones.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, natsServerPath } from "../cluster/nats-server.ts";
import { PYTHON, ROOT, type Server, startServer, waitUntil } from "../helpers.ts";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const section = /^## Cluster:[\s\S]*?(?=^## )/m.exec(readme)?.[0] ?? "";
const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
const hasNats = natsServerPath() !== undefined;
if (!hasNats) console.log("README cluster section skipped: nats-server is not installed");

describe.skipIf(!hasNats)("README.md cluster section", () => {
  const dir = mkdtempSync(join(tmpdir(), "snakepit-readme-cluster-"));
  let port = 0;
  let nats: ReturnType<typeof Bun.spawn> | undefined;
  const nodes: Server[] = [];
  const snippet = join(ROOT, "test/docs/.snippet-cluster.ts");
  const local = (text: string) => text.replaceAll("10.0.0.1:4222", `127.0.0.1:${port}`).replaceAll("0.0.0.0:4222", `127.0.0.1:${port}`);

  beforeAll(async () => {
    port = await freePort();
  });
  afterAll(async () => {
    for (const n of nodes) n.proc.kill("SIGTERM");
    await Promise.all(nodes.map((n) => n.proc.exited));
    nats?.kill("SIGTERM");
    await nats?.exited;
    rmSync(dir, { recursive: true, force: true });
    rmSync(snippet, { force: true });
  });

  test("has a NATS config, a node config, the commands and a client", () => {
    expect(blocks.map((b) => b.lang)).toEqual(["conf", "toml", "sh", "ts"]);
  });

  test("the NATS server, two nodes, a call, status and the client run as shown", async () => {
    const [conf, toml, sh, ts] = blocks;
    writeFileSync(join(dir, "nats.conf"), local(conf!.code).replace("/var/lib/nats/snakepit", join(dir, "js")));
    writeFileSync(join(dir, "node-a.toml"), local(toml!.code));
    const lines = sh!.code.trim().split("\n");
    expect(lines[0]).toBe("nats-server -c nats.conf &");
    nats = Bun.spawn([natsServerPath()!, "-c", join(dir, "nats.conf")], { stdout: "ignore", stderr: "pipe" });
    const log = nats.stderr as ReadableStream<Uint8Array>;
    let text = "";
    for await (const chunk of log) {
      text += new TextDecoder().decode(chunk);
      if (text.includes("Server is ready")) break;
    }
    expect(text).toContain("Server is ready");

    for (const line of lines.slice(1, 3)) {
      const args = line.replace("npx bun src/cli/main.ts ", "").split(" ").map((a) => (a === "node-a.toml" ? join(dir, a) : a));
      nodes.push(await startServer(["bun", join(ROOT, "src/cli/main.ts"), ...args], { SNAKEPIT_PORT: "0", SNAKEPIT_PYTHON: PYTHON }));
    }
    const [a, b] = nodes;
    expect(await waitUntil(() => a!.output().includes('cluster: node "a" joined'), 5_000)).toBe(true);
    expect(await waitUntil(() => b!.output().includes('cluster: node "b" joined'), 5_000)).toBe(true);

    const curl = lines[3]!.replace("127.0.0.1:7117", new URL(a!.url).host);
    const r = Bun.spawnSync(["bash", "-c", curl]);
    expect(r.stdout.toString()).toBe(lines[4]!.replace(/^# /, ""));

    // Slow calls through A spill over to B.
    const calls = Array.from({ length: 8 }, () => fetch(`${a!.url}/v1/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"tool":"sleep","args":{"ms":150}}' }));
    expect((await Promise.all(calls)).every((res) => res.status === 200)).toBe(true);
    const served = async () => ((await (await fetch(`${a!.url}/v1/cluster`)).json()) as { nodes: Array<{ node: string; served: number }> }).nodes;
    let view = await served();
    for (let i = 0; i < 20 && !(view.find((n) => n.node === "b")?.served ?? 0); i++) {
      await Bun.sleep(100);
      view = await served();
    }
    expect(view.find((n) => n.node === "b")!.served).toBeGreaterThan(0);

    expect(lines[5]).toBe("npx bun src/cli/main.ts status");
    const status = Bun.spawnSync(["bun", join(ROOT, "src/cli/main.ts"), "status", "--url", a!.url]);
    const out = status.stdout.toString();
    expect(out).toContain('cluster "snakepit": 2 live nodes');
    expect(out).toMatch(/a \(this\)\s+alive\s+default/);
    expect(out).toMatch(/\bb\s+alive\s+default/);

    writeFileSync(snippet, local(ts!.code));
    const client = Bun.spawnSync(["bun", snippet], { cwd: ROOT });
    expect(client.stderr.toString()).toBe("");
    expect(client.stdout.toString()).toBe("3\n");
  }, 60_000);
});

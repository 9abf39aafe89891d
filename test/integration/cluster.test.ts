/**
 * A real cluster: `nats-server -js` on a free port and three `snakepit serve --cluster` nodes,
 * each a separate process with its own Python worker. Skips (and says why) without nats-server.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Snakepit } from "../../src/mod.ts";
import type { ClusterClient, ClusterSession } from "../../src/cluster/client.ts";
import type { RoutedCall } from "../../src/cluster/router.ts";
import { cli, failure, isAlive, waitUntil } from "../helpers.ts";
import { natsServerPath, type NatsServer, startNatsServer } from "../cluster/nats-server.ts";
import { nodeConfig, pythonProcessesOf, startNode, stopNode, type TestNode } from "../cluster/nodes.ts";

const hasNats = natsServerPath() !== undefined;
if (!hasNats) console.log("cluster tests skipped: nats-server is not installed (scripts/optional-deps.sh installs Debian's nats-server)");

type Where = { node: string; pid: number };

describe.skipIf(!hasNats)("a cluster of three nodes", () => {
  let nats: NatsServer;
  let nodes: TestNode[] = [];
  let client: ClusterClient;
  const routed: RoutedCall[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    const config = nodeConfig(nats.url);
    nodes = await Promise.all(["n1", "n2", "n3"].map((name) => startNode(name, config)));
    client = await Snakepit.connect({ cluster: { url: nats.url, heartbeatMs: 250, nodeTimeoutMs: 1500, acceptTimeoutMs: 1000 }, onCall: (c) => routed.push(c) });
    await waitUntil(() => client.nodes().filter((n) => n.alive && n.pools.default?.capacity === 1).length === 3, 10_000);
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await Promise.all(nodes.map(stopNode));
    await nats?.stop();
  }, 30_000);

  test("Snakepit.connect() lists every node with its pools, tools and capacity", () => {
    const list = client.nodes();
    expect(list.map((n) => n.node)).toEqual(["n1", "n2", "n3"]);
    for (const n of list) {
      expect(n.alive).toBe(true);
      expect(n.pools.default).toMatchObject({ size: 1, capacity: 1 });
      expect(n.pools.default!.tools).toEqual(expect.arrayContaining(["where", "bump", "ticks"]));
    }
  });

  test("snakepit status lists the cluster's nodes, from a node's HTTP API or from NATS", async () => {
    const direct = await cli(["status", "--cluster", nats.url]);
    expect(direct.code).toBe(0);
    expect(direct.stdout).toContain('cluster "snakepit": 3 live nodes');
    for (const n of ["n1", "n2", "n3"]) expect(direct.stdout).toMatch(new RegExp(`${n}\\s+alive\\s+default\\s+1/1`));
    const json = JSON.parse((await cli(["status", "--cluster", nats.url, "--json"])).stdout) as { cluster: { nodes: Array<{ node: string }> } };
    expect(json.cluster.nodes.map((n) => n.node)).toEqual(["n1", "n2", "n3"]);
    const viaHttp = await cli(["status", "--url", nodes[1]!.url]);
    expect(viaHttp.stdout).toMatch(/n2 \(this\)\s+alive/);
  });

  test("calls through one node's HTTP API are served by all three nodes", async () => {
    const n1 = nodes[0]!;
    const call = () => fetch(`${n1.url}/v1/execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tool: "where", args: { ms: 200 } }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { result: Where } }));
    const results = await Promise.all(Array.from({ length: 12 }, call));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.body.result.node))).toEqual(new Set(["n1", "n2", "n3"]));
    const cluster = (await (await fetch(`${n1.url}/v1/cluster`)).json()) as { node: string; nodes: Array<{ node: string; alive: boolean }> };
    expect(cluster.node).toBe("n1");
    const metrics = await (await fetch(`${n1.url}/metrics`)).text();
    expect(metrics).toMatch(/snakepit_cluster_calls_total\{pool="default",served_by="n2",outcome="ok"\} [1-9]/);
    expect(cluster.nodes.filter((n) => n.alive).map((n) => n.node)).toEqual(["n1", "n2", "n3"]);
  });

  test("errors keep their code, details and Python facts across nodes", async () => {
    const err = await failure(client.execute("fail", { what: "input" }));
    expect(err).toMatchObject({ name: "SnakepitError", code: "python_exception", python: { type: "ValueError", kind: "ValueError" } });
    expect(err.message).toContain("bad input");
    expect(["n1", "n2", "n3"]).toContain(err.details.node);
    await expect(client.execute("nope")).rejects.toMatchObject({ code: "tool_not_found" });
    await expect(client.execute("where", {}, { pool: "gpu" })).rejects.toMatchObject({ code: "invalid_argument", details: { field: "pool" } });
  });

  test("a stream crosses nodes in order, and breaking out cancels it on its node", async () => {
    const chunks: Array<{ i: number; node: string }> = [];
    for await (const c of client.stream<{ i: number; node: string }>("ticks", { n: 40 })) chunks.push(c);
    expect(chunks.map((c) => c.i)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(new Set(chunks.map((c) => c.node)).size).toBe(1);
    const t0 = performance.now();
    let seen = 0;
    for await (const _ of client.stream("ticks", { n: 1000, delay_ms: 20 })) if (++seen === 3) break;
    expect(seen).toBe(3);
    // The cancelled stream freed its worker: every node advertises a free slot again.
    expect(await waitUntil(() => client.nodes().every((n) => n.pools.default?.free === 1), 5_000)).toBe(true);
    const where = await Promise.all([0, 1, 2].map(() => client.execute<Where>("where", { ms: 100 })));
    expect(new Set(where.map((w) => w.node)).size).toBe(3);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  test("a deadline crosses nodes: the call fails in time and its worker is freed", async () => {
    const t0 = performance.now();
    await expect(client.execute("where", { ms: 20_000 }, { timeoutMs: 400 })).rejects.toMatchObject({ code: "deadline_exceeded" });
    expect(performance.now() - t0).toBeLessThan(3_000);
    const ac = new AbortController();
    const aborted = client.execute("where", { ms: 20_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    await expect(aborted).rejects.toMatchObject({ code: "aborted" });
    await waitUntil(() => client.nodes().every((n) => n.pools.default?.free === 1), 5_000);
    expect(client.nodes().map((n) => n.pools.default?.free)).toEqual([1, 1, 1]);
  });

  test("a session stays on one node's worker for 50 calls", async () => {
    const session = client.session("fifty");
    const seen: Array<Where & { count: number }> = [];
    for (let i = 0; i < 50; i++) seen.push(await session.execute("bump"));
    expect(seen.map((s) => s.count)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(new Set(seen.map((s) => `${s.node}/${s.pid}`)).size).toBe(1);
    // Other nodes' handles find the same node through the sessions bucket.
    const other = await Snakepit.connect({ cluster: nats.url });
    try {
      expect(await other.session("fifty").execute("bump")).toMatchObject({ count: 51, node: seen[0]!.node });
    } finally {
      await other.close();
    }
    await session.close();
  });

  test("SIGKILL of a node under load: no idempotent call is lost, each settles once, the rest serve on", async () => {
    const victim = nodes[2]!;
    const { workers, templates } = pythonProcessesOf(victim.proc.pid);
    expect(workers.length).toBe(1);
    expect(templates.length).toBe(process.platform === "linux" ? 1 : 0); // workers are forked from a template by default
    // A strict session that lives on the victim.
    let strict: ClusterSession | undefined;
    for (let i = 0; i < 30 && !strict; i++) {
      const s = client.session(`on-victim-${i}`);
      if ((await s.execute<Where>("bump", {}, { affinity: "strict_queue" })).node === victim.name) strict = s;
      else await s.close();
    }
    if (!strict) throw new Error("no session landed on the victim in 30 tries");
    routed.length = 0;

    const settled = new Map<number, number>();
    const calls = Array.from({ length: 16 }, (_, i) => {
      const p = client.execute<Where>("where", { ms: 300 }, { idempotent: i < 12, timeoutMs: 30_000 });
      void p.then(() => settled.set(i, (settled.get(i) ?? 0) + 1), () => settled.set(i, (settled.get(i) ?? 0) + 1));
      return p;
    });
    await waitUntil(() => client.nodes().find((n) => n.node === victim.name)?.pools.default?.inFlight === 1, 5_000);
    victim.proc.kill("SIGKILL");
    const outcomes = await Promise.allSettled(calls);
    await Bun.sleep(100);
    expect([...settled.values()]).toEqual(Array(16).fill(1));
    outcomes.slice(0, 12).forEach((o) => expect(o.status).toBe("fulfilled"));
    const crashed = outcomes.slice(12).filter((o) => o.status === "rejected");
    for (const o of crashed) expect(o.reason).toMatchObject({ code: "worker_crashed", details: { node: victim.name, nodeLost: true } });
    // The kill hit a running call: an idempotent one moved to another node, or a plain one failed typed.
    expect(routed.filter((c) => c.attempts > 1 && c.outcome === "ok").length + crashed.length).toBeGreaterThan(0);
    // The killed node's capacity expires; the others keep serving.
    await waitUntil(() => client.nodes().find((n) => n.node === victim.name)?.alive === false, 5_000);
    const after = await Promise.all(Array.from({ length: 6 }, () => client.execute<Where>("where", { ms: 50 })));
    expect(new Set(after.map((w) => w.node))).toEqual(new Set(["n1", "n2"]));
    // Its session is lost once, then starts again elsewhere.
    await expect(strict.execute("bump", {}, { affinity: "strict_queue" })).rejects.toMatchObject({ code: "session_worker_lost", details: { node: victim.name } });
    expect(await strict.execute("bump", {}, { affinity: "strict_queue" })).toMatchObject({ count: 1 });
    // No Python process of the killed node survives it.
    expect(await waitUntil(() => [...workers, ...templates].every((pid) => !isAlive(pid)), 10_000)).toBe(true);
  }, 60_000);
});

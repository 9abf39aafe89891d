/**
 * Cluster behaviours with nodes in this process (real Python workers, a real nats-server):
 * credentials pass through (token, NKey) and wrong ones fail typed; payloads stay in the subject
 * namespace; stream credit and vanished readers; pools that run elsewhere; sessions whose node
 * restarted or left (rehydrate where they land).
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, nkeys } from "@nats-io/transport-node";
import { createApp } from "../../src/api/app.ts";
import { Snakepit } from "../../src/mod.ts";
import { cli, fixture, PYTHON, waitUntil } from "../helpers.ts";
import { natsServerPath, type NatsServer, startNatsServer } from "../cluster/nats-server.ts";

const hasNats = natsServerPath() !== undefined;
if (!hasNats) console.log("cluster auth tests skipped: nats-server is not installed (scripts/optional-deps.sh installs it)");
const adapter = fixture("cluster_tools.py:ClusterTools");
const fast = { heartbeatMs: 200, nodeTimeoutMs: 1_000, acceptTimeoutMs: 1_000 };

describe("snakepit serve --cluster", () => {
  test("bad cluster flags fail before workers start; an unreachable server fails typed", async () => {
    const bad = await cli(["serve", "--port", "0", "--pool-size", "1", "--cluster", "nats://127.0.0.1:1", "--node", "bad name"]);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain("config_invalid: Invalid cluster configuration: cluster.node");
    expect(bad.stdout).not.toContain("ready");
    const down = await cli(["serve", "--port", "0", "--pool-size", "1", "--cluster", "nats://127.0.0.1:1", "--node", "n"]);
    expect(down.stderr).toContain("worker_unavailable: Cannot join the cluster at nats://127.0.0.1:1");
    expect(down.code).toBe(69);
  }, 30_000);
});

describe.skipIf(!hasNats)("cluster credentials and namespace", () => {
  let nats: NatsServer;
  const token = "s3cret-token-for-tests";

  beforeAll(async () => {
    nats = await startNatsServer(["--auth", token]);
  });
  afterAll(async () => {
    await nats?.stop();
  });

  test("Snakepit.connect() with a wrong token fails with unauthenticated", async () => {
    await expect(Snakepit.connect({ cluster: { url: nats.url, token: "wrong-token" } })).rejects.toMatchObject({ code: "unauthenticated" });
    await expect(Snakepit.connect({ cluster: { url: nats.url, prefix: "a.b" } })).rejects.toMatchObject({ code: "config_invalid" });
  });

  test("call payloads only travel on subjects under the cluster prefix", async () => {
    const spy = await connect({ servers: nats.url, token });
    const seen: string[] = [];
    spy.subscribe(">", {
      callback: (_, m) => {
        if (m.string().includes("MARKER-7f3a")) seen.push(m.subject);
      },
    });
    await using pit = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster: { url: nats.url, token, prefix: "blue", node: "b1", ...fast } });
    await using client = await Snakepit.connect({ cluster: { url: nats.url, token, prefix: "blue", ...fast } });
    expect(await client.execute("echo", { tag: "MARKER-7f3a" })).toEqual({ tag: "MARKER-7f3a" });
    expect(await pit.execute("echo", { tag: "MARKER-7f3a" }, { pool: "default" })).toEqual({ tag: "MARKER-7f3a" });
    await using green = await Snakepit.connect({ cluster: { url: nats.url, token, prefix: "green", ...fast } });
    await expect(green.execute("where", { tag: "MARKER-7f3a" })).rejects.toMatchObject({ code: "worker_unavailable" });
    await spy.flush();
    await spy.close();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((s) => !s.startsWith("blue."))).toEqual([]);
    expect(pit.cluster?.name).toBe("b1");
  });
});

describe.skipIf(!hasNats)("cluster streams and routing", () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  test("a node sends no more stream chunks than the reader's credit allows", async () => {
    await using _node = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster: { url: nats.url, prefix: "bp", node: "bp1", ...fast } });
    await using client = await Snakepit.connect({ cluster: { url: nats.url, prefix: "bp", streamCredit: 4, ...fast } });
    const spy = await connect({ servers: nats.url });
    let sent = 0;
    spy.subscribe("bp.reply.>", {
      callback: (_, m) => {
        if ((m.json() as { t: string }).t === "chunk") sent++;
      },
    });
    await spy.flush();
    const chunks = client.stream<{ i: number }>("ticks", { n: 100 });
    expect((await chunks.next()).value).toMatchObject({ i: 0 });
    expect((await chunks.next()).value).toMatchObject({ i: 1 });
    // Reading two of four credited chunks granted two more: at most six are out, however long we wait.
    await Bun.sleep(500);
    await spy.flush();
    expect(sent).toBeGreaterThanOrEqual(4);
    expect(sent).toBeLessThanOrEqual(6);
    let n = 2;
    for await (const c of chunks) expect(c.i).toBe(n++);
    expect(n).toBe(100);
    await spy.close();
  });

  test("a node stops a stream whose reader vanished without a word", async () => {
    await using node = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster: { url: nats.url, prefix: "gone", node: "g1", ...fast } });
    const client = await Snakepit.connect({ cluster: { url: nats.url, prefix: "gone", streamCredit: 1, ...fast } });
    const chunks = client.stream<{ i: number }>("ticks", { n: 1_000_000 });
    expect((await chunks.next()).value).toMatchObject({ i: 0 });
    expect(node.stats().inFlight).toBe(1);
    await client.close(); // no cancel, no more keep-alives: as if the reader's process died
    expect(await waitUntil(() => node.stats().inFlight === 0, 5_000)).toBe(true);
    expect(await node.execute("echo", { ok: true })).toEqual({ ok: true });
  });

  test("a node that leaves gracefully finishes the calls it runs for others and hands back the rest", async () => {
    const cluster = (node: string) => ({ url: nats.url, prefix: "leave", node, ...fast });
    const leaving = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster: cluster("l1") });
    await using client = await Snakepit.connect({ cluster: { url: nats.url, prefix: "leave", ...fast } });
    const running = client.execute("where", { ms: 600 });
    const waiting = client.execute("echo", { queued: true });
    expect(await waitUntil(() => leaving.stats().inFlight === 1, 5_000)).toBe(true);
    await using _stays = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster: cluster("l2") });
    const closed = leaving.close({ graceMs: 5_000 });
    expect(await running).toMatchObject({ pid: expect.any(Number) });
    expect(await waiting).toEqual({ queued: true });
    await closed;
  });

  test("a strict session whose node restarted under the same name is lost once, then starts afresh", async () => {
    const cluster = { url: nats.url, prefix: "restart", node: "r1", ...fast };
    const first = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster });
    await using client = await Snakepit.connect({ cluster: { url: nats.url, prefix: "restart", ...fast } });
    const session = client.session("s");
    expect(await session.execute("bump", {}, { affinity: "strict_queue" })).toMatchObject({ count: 1 });
    expect(await session.execute("bump", {}, { affinity: "strict_queue" })).toMatchObject({ count: 2 });
    await first.close();
    await using _again = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster });
    expect(await waitUntil(() => client.nodes().some((n) => n.node === "r1" && n.alive), 5_000)).toBe(true);
    await expect(session.execute("bump", {}, { affinity: "strict_queue" })).rejects.toMatchObject({ code: "session_worker_lost", details: { session: "s", node: "r1" } });
    expect(await session.execute("bump", {}, { affinity: "strict_queue" })).toMatchObject({ count: 1 });
  });

  test("a call for a pool that runs only on another node goes there; events and stats say who served it", async () => {
    const cluster = (node: string) => ({ url: nats.url, prefix: "route", node, ...fast });
    await using x = await Snakepit.start({ pools: [{ name: "px", adapter, poolSize: 1 }], python: PYTHON, cluster: cluster("x1") });
    await using y = await Snakepit.start({ pools: [{ name: "py", adapter, poolSize: 1 }], python: PYTHON, cluster: cluster("y1") });
    expect(await waitUntil(() => x.cluster!.nodes().length === 2, 5_000)).toBe(true);
    const served: string[] = [];
    x.on("cluster.call", (c) => served.push(`${c.pool}@${c.servedBy}`));
    expect(await x.execute("echo", { v: 1 }, { pool: "py" })).toEqual({ v: 1 });
    expect(await x.execute("echo", { v: 2 })).toEqual({ v: 2 });
    const chunks: unknown[] = [];
    for await (const c of x.stream<{ i: number }>("ticks", { n: 3 }, { pool: "py" })) chunks.push(c.i);
    expect(chunks).toEqual([0, 1, 2]);
    expect(served).toEqual(["py@y1", "px@x1", "py@y1"]);
    await expect(x.execute("echo", {}, { pool: "pz" })).rejects.toMatchObject({ code: "invalid_argument", details: { field: "pool" } });
    await expect(x.execute("echo", { blob: "y".repeat(2 << 20) }, { pool: "py" })).rejects.toMatchObject({ code: "payload_too_large" });
    await expect(x.execute("big", { n: 2 << 20 }, { pool: "py" })).rejects.toMatchObject({ code: "payload_too_large", details: { node: "y1" } });
    await expect(x.execute("echo", {}, { sessionId: "never-made" })).rejects.toMatchObject({ code: "session_not_found" });
    const s = x.session("made-here");
    expect(await s.execute("echo", { k: 1 }, { pool: "py" })).toEqual({ k: 1 });
    expect(served.at(-1)).toBe("py@y1");
    expect(y.sessions.get("made-here")).toBeDefined();
    s.close(); // ends it on the node that holds it too
    expect(await waitUntil(() => y.sessions.get("made-here") === undefined, 5_000)).toBe(true);
    const view = await createApp({ pit: x }).request("/v1/cluster");
    expect(await view.json()).toMatchObject({ node: "x1", prefix: "route", nodes: [{ node: "x1", alive: true }, { node: "y1", alive: true }] });
    expect(x.cluster!.nodes().find((n) => n.node === "y1")?.pools.py?.tools).toContain("echo");
  });
});

const hasOpenssl = Bun.which("openssl") !== null;
if (hasNats && !hasOpenssl) console.log("cluster TLS test skipped: openssl is not installed (needed to make a test certificate)");

describe.skipIf(!hasNats || !hasOpenssl)("cluster over TLS with user and password", () => {
  let nats: NatsServer;
  let ca = "";

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "snakepit-tls-"));
    ca = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", ca, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]);
    if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
    nats = await startNatsServer(["--tls", "--tlscert", ca, "--tlskey", key, "--user", "snake", "--pass", "pit-secret"]);
  });
  afterAll(async () => {
    await nats?.stop();
  });

  test("a node and a client join with user, password and the server's CA; without the CA or the password they fail typed", async () => {
    const url = nats.url.replace("nats://", "tls://");
    const good = { url, user: "snake", pass: "pit-secret", tls: { caFile: ca }, ...fast };
    await using _node = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster: { ...good, node: "t1" } });
    await using client = await Snakepit.connect({ cluster: good });
    expect(await client.execute("echo", { over: "tls" })).toEqual({ over: "tls" });
    await expect(Snakepit.connect({ cluster: { ...good, pass: "wrong-secret" } })).rejects.toMatchObject({ code: "unauthenticated" });
    await expect(Snakepit.connect({ cluster: { url, user: "snake", pass: "pit-secret" } })).rejects.toMatchObject({ code: "worker_unavailable" });
  });
});

describe.skipIf(!hasNats)("cluster with NKey authentication", () => {
  let nats: NatsServer;
  let seedFile: string;

  beforeAll(async () => {
    const user = nkeys.createUser();
    const dir = mkdtempSync(join(tmpdir(), "snakepit-nkey-"));
    seedFile = join(dir, "user.nk");
    writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
    const conf = join(dir, "nats.conf");
    writeFileSync(conf, `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
    nats = await startNatsServer(["-c", conf]);
  });
  afterAll(async () => {
    await nats?.stop();
  });

  test("a node and a client join with an NKey seed file; a strict session rehydrates on the node it moves to", async () => {
    const cluster = (node?: string) => ({ url: nats.url, nkeySeedFile: seedFile, ...fast, ...(node ? { node } : {}) });
    await expect(Snakepit.connect({ cluster: { url: nats.url } })).rejects.toMatchObject({ code: "unauthenticated" });
    await expect(Snakepit.connect({ cluster: { url: nats.url, nkeySeedFile: "/nonexistent/seed" } })).rejects.toMatchObject({ code: "config_invalid" });
    const first = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster: cluster("k1") });
    const rehydrated: Array<{ sessionId: string; lostNode: string }> = [];
    await using client = await Snakepit.connect({
      cluster: cluster(),
      rehydrate: async (ctx) => {
        rehydrated.push({ sessionId: ctx.sessionId, lostNode: ctx.lostNode });
        await ctx.session.execute("bump");
      },
    });
    const session = client.session("moving");
    expect(await session.execute("bump", {}, { affinity: "strict_queue" })).toMatchObject({ count: 1 });
    await using second = await Snakepit.start({ adapter, poolSize: 1, python: PYTHON, cluster: cluster("k2") });
    expect(await waitUntil(() => client.nodes().filter((n) => n.alive).length === 2, 5_000)).toBe(true);
    await first.close();
    expect(await waitUntil(() => client.nodes().every((n) => n.node !== "k1" || !n.alive), 5_000)).toBe(true);
    // The hook ran once on the new node (count 1), then the call itself (count 2).
    expect(await session.execute("bump", {}, { affinity: "strict_queue" })).toMatchObject({ count: 2 });
    expect(rehydrated).toEqual([{ sessionId: "moving", lostNode: "k1" }]);
    expect(second.cluster?.nodes().map((n) => n.node)).toEqual(["k2"]);
  });
});

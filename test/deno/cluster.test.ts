// Runs under Deno: a node and a client-only handle over a real nats-server (skipped without one).
import { Snakepit } from "../../src/mod.ts";

const python = Deno.env.get("SNAKEPIT_TEST_PYTHON") ?? "/usr/bin/python3";
const adapter = new URL("../../examples/adapters/demo.py:DemoAdapter", import.meta.url).pathname;
const natsServer = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
if (!natsServer) console.log("deno cluster test skipped: nats-server is not installed");

Deno.test({ name: "a cluster node and a client run under Deno", ignore: !natsServer, sanitizeOps: false, sanitizeResources: false }, async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const store = await Deno.makeTempDir();
  const server = new Deno.Command(natsServer!, { args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store], stdout: "null", stderr: "null" }).spawn();
  const url = `nats://127.0.0.1:${port}`;
  try {
    let pit: Snakepit | undefined;
    for (let i = 0; i < 50 && !pit; i++) {
      pit = await Snakepit.start({ adapter, poolSize: 1, python, cluster: { url, node: "deno1" } }).catch(async (err) => {
        if (i === 49) throw err;
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    }
    const client = await Snakepit.connect({ cluster: url });
    try {
      const sum = await client.execute("add", { a: 2, b: 3 });
      if (sum !== 5) throw new Error(`expected 5, got ${JSON.stringify(sum)}`);
      if (client.nodes().map((n) => n.node).join() !== "deno1") throw new Error(`nodes: ${JSON.stringify(client.nodes())}`);
    } finally {
      await client.close();
      await pit!.close();
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
    await Deno.remove(store, { recursive: true });
  }
});

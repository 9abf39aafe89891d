/**
 * The HTTP face: `snakepit serve` (2 workers) and FastAPI + uvicorn (2 workers) under autocannon
 * (run with Node, as a separate process), same JSON call on both: add(a, b).
 */

import { join } from "node:path";
import { startUvicorn } from "./fastapi.ts";

const root = new URL("../../", import.meta.url).pathname;
const adapter = join(root, "bench/adapters/bench.py");

export interface Load {
  reqPerSec: number;
  p99Ms: number;
  errors: number;
}

export interface Server {
  url: string;
  path: string;
  body: string;
  /** The serving process (host CPU figures). */
  pid?: number;
  close(): Promise<void>;
}

/** `snakepit serve` in its own Bun process, 2 workers, any free port. */
export async function startServe(python: string): Promise<Server> {
  const proc = Bun.spawn([process.execPath, join(root, "src/cli/main.ts"), "serve", "--adapter", adapter, "--pool-size", "2", "--port", "0", "--python", python, "--instance", `bench-${process.pid}`], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  const text = new TextDecoder();
  let out = "";
  let url = "";
  while (!url) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`snakepit serve exited before listening:\n${out}`);
    out += text.decode(value, { stream: true });
    url = /listening on (http:\/\/\S+)/.exec(out)?.[1] ?? "";
  }
  void (async () => {
    while (!(await reader.read()).done);
  })();
  return {
    url,
    pid: proc.pid,
    path: "/v1/execute",
    body: '{"tool":"add","args":{"a":1,"b":2}}',
    async close() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

export async function startApi(python: string): Promise<Server> {
  const server = await startUvicorn(python, 2);
  return { url: server.url, path: "/add", body: '{"a":1,"b":2}', close: server.close };
}

/** autocannon for `seconds` at `connections`, JSON POST of the server's body. */
export async function load(server: Server, connections: number, seconds: number): Promise<Load> {
  const cli = join(root, "node_modules/autocannon/autocannon.js");
  const proc = Bun.spawn(["node", cli, "-j", "-c", String(connections), "-d", String(seconds), "-m", "POST", "-H", "content-type=application/json", "-b", server.body, server.url + server.path], {
    stdout: "pipe",
    stderr: "ignore",
  });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`autocannon failed: ${out.slice(0, 500)}`);
  const r = JSON.parse(out) as { requests: { average: number }; latency: { p99: number }; errors: number; non2xx: number; timeouts: number };
  return { reqPerSec: r.requests.average, p99Ms: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts };
}

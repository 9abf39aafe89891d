/** `snakepit status`: attach to a running server and show pools, workers and queues. */

import { SnakepitError } from "../errors.ts";
import { table } from "./output.ts";
import { clusterTable, fetchCluster } from "./cluster-status.ts";

interface PoolView {
  name: string;
  adapter: string;
  size: number;
  stats: Record<string, number | Record<string, number>>;
}

async function get<T>(url: string, path: string, token: string | undefined): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (err) {
    throw new SnakepitError("worker_unavailable", `Cannot reach a snakepit server at ${url}: ${(err as Error).message}`, { cause: err });
  }
  const body = (await res.json().catch(() => ({}))) as T & { code?: string; message?: string };
  if (!res.ok) {
    throw new SnakepitError(res.status === 401 ? "unauthenticated" : "internal", `${url}${path}: ${res.status} ${body.message ?? ""}`.trim());
  }
  return body;
}

/** Print the server's pools and workers once, or every `watchMs` until interrupted. */
export async function status(url: string, options: { token?: string | undefined; watchMs?: number | undefined; json?: boolean }): Promise<number> {
  for (;;) {
    const [{ pools }, { workers }, cluster] = await Promise.all([
      get<{ pools: PoolView[] }>(url, "/v1/pools", options.token),
      get<{ workers: Array<Record<string, unknown>> }>(url, "/v1/workers", options.token),
      fetchCluster(url, options.token),
    ]);
    if (options.json) {
      console.log(JSON.stringify({ pools, workers, ...(cluster ? { cluster } : {}) }));
    } else {
      if (options.watchMs) process.stdout.write("\x1b[2J\x1b[H");
      console.log(`snakepit at ${url}\n`);
      console.log(table(pools.map((p) => ({
        pool: p.name,
        workers: `${p.stats.ready}/${p.size}`,
        busy: p.stats.busy,
        queued: p.stats.queued,
        requests: p.stats.requests,
        failed: p.stats.failed,
        crashes: p.stats.crashes,
        "p50 ms": (p.stats.latencyMs as Record<string, number>).p50,
        "p99 ms": (p.stats.latencyMs as Record<string, number>).p99,
        adapter: p.adapter,
      })), ["pool", "workers", "busy", "queued", "requests", "failed", "crashes", "p50 ms", "p99 ms", "adapter"]));
      console.log();
      console.log(table(workers.map((w) => ({ ...w, "uptime s": Math.round(Number(w.uptimeMs) / 1000) })), ["id", "pool", "pid", "state", "inFlight", "requests", "uptime s"]));
      if (cluster) console.log(`\n${clusterTable(cluster)}`);
    }
    if (!options.watchMs) return 0;
    await new Promise((r) => setTimeout(r, options.watchMs));
  }
}

/** The cluster in `snakepit status`: from a node's `/v1/cluster`, or straight from NATS. */

import type { ClusterConfigInput } from "../config/cluster.ts";
import type { ClusterView } from "../cluster/view.ts";
import { table } from "./output.ts";

/** Rows of nodes x pools for a table. */
export function clusterRows(view: ClusterView): Array<Record<string, unknown>> {
  return view.nodes.flatMap((n) => Object.entries(n.pools).map(([pool, p]) => ({
    node: n.node === view.node ? `${n.node} (this)` : n.node,
    state: n.alive ? "alive" : `lost ${Math.round(n.ageMs / 1000)} s ago`,
    pool,
    free: `${p.free}/${p.capacity}`,
    "in flight": p.inFlight,
    queued: p.queued,
    sessions: n.sessions,
    served: n.served,
  })));
}

/** Fetch `/v1/cluster` from a server; undefined when it is not in a cluster (or too old). */
export async function fetchCluster(url: string, token: string | undefined): Promise<ClusterView | undefined> {
  try {
    const res = await fetch(`${url}/v1/cluster`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return res.ok ? ((await res.json()) as ClusterView) : undefined;
  } catch {
    return undefined;
  }
}

/** The cluster table `snakepit status` prints. */
export function clusterTable(view: ClusterView): string {
  const live = view.nodes.filter((n) => n.alive).length;
  return `cluster "${view.prefix}": ${live} live node${live === 1 ? "" : "s"}\n` +
    table(clusterRows(view), ["node", "state", "pool", "free", "in flight", "queued", "sessions", "served"]);
}

/** `snakepit status --cluster URL`: the cluster's nodes straight from NATS, no server needed. */
export async function clusterStatus(settings: ClusterConfigInput, options: { json: boolean }): Promise<number> {
  const { ClusterClient } = await import("../cluster/client.ts");
  const client = await ClusterClient.connect({ cluster: settings });
  try {
    const view = { node: "", prefix: typeof settings === "object" && settings.prefix ? settings.prefix : "snakepit", nodes: client.nodes() };
    console.log(options.json ? JSON.stringify({ cluster: view }) : clusterTable(view));
    return 0;
  } finally {
    await client.close();
  }
}

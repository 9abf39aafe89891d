/** The cluster as `/v1/cluster` and `snakepit status` show it. */

import { SnakepitError } from "../errors.ts";
import { table } from "../cli/output.ts";
import type { NodeView } from "./directory.ts";

/** What `/v1/cluster` returns. */
export interface ClusterView {
  /** The node answering. */
  node: string;
  prefix: string;
  nodes: NodeView[];
}

/** The view of a clustered Snakepit; `not_found` when it is not in a cluster. */
export function clusterView(pit: { cluster: { name: string; config: { prefix: string }; nodes(): NodeView[] } | undefined }): ClusterView {
  if (!pit.cluster) throw new SnakepitError("not_found", "This server is not in a cluster (start it with --cluster nats://HOST:PORT)");
  return { node: pit.cluster.name, prefix: pit.cluster.config.prefix, nodes: pit.cluster.nodes() };
}

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

/** The cluster as `/v1/cluster` and `snakepit status` show it. */

import { SnakepitError } from "../errors.ts";
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

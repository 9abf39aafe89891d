/** The cluster's command-line flags and environment, merged over the config file's `[cluster]`. */

import { SnakepitError } from "../errors.ts";
import type { ClusterConfigInput } from "../config/cluster.ts";

/** Flags `serve` and `status` accept. */
export const CLUSTER_FLAGS = {
  cluster: { type: "string" },
  node: { type: "string" },
  "cluster-prefix": { type: "string" },
} as const;

export const CLUSTER_HELP = `  --cluster URL   join the cluster whose NATS server is URL (nats://HOST:PORT); also [cluster] in
                  the config file or SNAKEPIT_CLUSTER
  --node NAME     this node's name in the cluster (default: host name and pid; SNAKEPIT_NODE)
  --cluster-prefix P  subject/bucket namespace shared by the cluster's nodes (default "snakepit")`;

/**
 * The cluster settings from the file, then the environment (SNAKEPIT_CLUSTER, SNAKEPIT_NODE,
 * SNAKEPIT_CLUSTER_PREFIX, SNAKEPIT_CLUSTER_TOKEN, SNAKEPIT_CLUSTER_USER/PASS), then flags.
 * Undefined when no URL is given anywhere.
 */
export function clusterSettings(
  file: ClusterConfigInput | undefined,
  env: Record<string, string | undefined>,
  flags: { cluster?: string | undefined; node?: string | undefined; "cluster-prefix"?: string | undefined },
): ClusterConfigInput | undefined {
  if (file !== undefined && (typeof file !== "object" || file === null || Array.isArray(file))) {
    throw new SnakepitError("config_invalid", "[cluster] must be a table (url, node, prefix, ...)", { details: { field: "cluster" } });
  }
  const out: Record<string, unknown> = { ...file };
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== "") out[key] = value;
  };
  set("url", env.SNAKEPIT_CLUSTER);
  set("node", env.SNAKEPIT_NODE);
  set("prefix", env.SNAKEPIT_CLUSTER_PREFIX);
  set("token", env.SNAKEPIT_CLUSTER_TOKEN);
  set("user", env.SNAKEPIT_CLUSTER_USER);
  set("pass", env.SNAKEPIT_CLUSTER_PASS);
  set("url", flags.cluster);
  set("node", flags.node);
  set("prefix", flags["cluster-prefix"]);
  if (out.url === undefined) {
    if (Object.keys(out).length > 0) throw new SnakepitError("config_invalid", "Cluster settings without a server: give --cluster nats://HOST:PORT (or cluster.url)", { details: { field: "cluster.url" } });
    return undefined;
  }
  return out as ClusterConfigInput;
}

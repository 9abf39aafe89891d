/** The facade's hook: join the cluster as a node, reporting calls as events on the pit's bus. */

import type { RehydrateContext } from "../facade/types.ts";
import type { EventBus } from "../telemetry/bus.ts";
import type { NodeFacade } from "./local.ts";
import type { ClusterClient, ConnectOptions } from "./client.ts";
import type { ClusterNode } from "./node.ts";

/** What joining needs beyond the pit: its bus and its rehydrate hook. */
export interface JoinDeps {
  bus: EventBus;
  rehydrate?: ((ctx: RehydrateContext) => Promise<void> | void) | undefined;
}

/** Join the cluster named by `input` (NATS is loaded only now: unclustered pits never load it). */
export async function joinCluster(input: unknown, pit: NodeFacade, deps: JoinDeps): Promise<ClusterNode> {
  const { ClusterNode } = await import("./node.ts");
  const rehydrate = deps.rehydrate;
  let name = "";
  const node = await ClusterNode.join(input, pit, {
    onCall: (c) => deps.bus.emit("cluster.call", { node: name, ...c }),
    onServed: (c) => deps.bus.emit("cluster.served", { node: name, ...c }),
    onNodeLost: (lost) => deps.bus.emit("cluster.node_lost", { node: lost }),
    ...(rehydrate
      ? { rehydrate: (ctx: { sessionId: string; pool: string; lostNode: string }) => rehydrate({ sessionId: ctx.sessionId, pool: ctx.pool, lostWorker: `node:${ctx.lostNode}`, session: pit.session(ctx.sessionId) }) }
      : {}),
  });
  name = node.name;
  return node;
}

/** `Snakepit.connect`: a client-only cluster handle (NATS is loaded only now). */
export async function connectCluster(options: ConnectOptions): Promise<ClusterClient> {
  const { ClusterClient } = await import("./client.ts");
  return ClusterClient.connect(options);
}

export { isLocalCall } from "./local.ts";
export type { ClusterClient, ClusterNode, ConnectOptions };

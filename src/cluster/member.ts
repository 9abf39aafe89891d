/**
 * The parts every cluster member shares, node or client: the connection, the two buckets, the
 * node directory, the caller and the router.
 */

import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { SnakepitError } from "../errors.ts";
import { Caller } from "./caller.ts";
import type { ClusterConfig } from "../config/cluster.ts";
import { openConnection } from "./connection.ts";
import { NodeDirectory } from "./directory.ts";
import type { LocalRunner } from "./local.ts";
import { type RoutedCall, Router, type RouterDeps } from "./router.ts";
import { SessionMap } from "./session-map.ts";
import { subjects, type Subjects } from "./wire.ts";

/** An open membership. */
export interface Membership {
  nc: NatsConnection;
  subjects: Subjects;
  nodesKv: KV;
  dir: NodeDirectory;
  caller: Caller;
  sessions: SessionMap;
  router: Router;
  /** Close the directory, the caller and the connection. */
  close(): Promise<void>;
}

/** What opening a membership needs beyond the config. */
export interface MembershipOptions {
  /** Connection name and reply-subject token: the node name, or a client id. */
  name: string;
  self: string | undefined;
  selfStartedAt: number | undefined;
  local: LocalRunner | undefined;
  rehydrate?: RouterDeps["rehydrate"];
  mayCreateSession?: RouterDeps["mayCreateSession"];
  onCall(call: RoutedCall): void;
}

/** Connect, open (or create) the buckets, load the directory. */
export async function openMembership(config: ClusterConfig, options: MembershipOptions): Promise<Membership> {
  const nc = await openConnection(config, options.name);
  try {
    const s = subjects(config.prefix);
    const kvm = new Kvm(nc);
    let nodesKv: KV;
    let sessionsKv: KV;
    try {
      nodesKv = await kvm.create(s.nodesBucket, { history: 1, ttl: config.nodeTimeoutMs * 3 });
      sessionsKv = await kvm.create(s.sessionsBucket, { history: 1, ttl: 24 * 3_600_000 });
    } catch (err) {
      throw new SnakepitError("worker_unavailable", `Cannot open the cluster's key-value buckets (is the NATS server running with -js?): ${(err as Error).message}`, {
        cause: err,
        details: { url: config.url },
      });
    }
    const dir = await NodeDirectory.open(nodesKv, config.nodeTimeoutMs);
    const token = `${options.name}-${crypto.randomUUID().slice(0, 8)}`;
    const caller = new Caller(nc, { subjects: s, client: token, dir, acceptTimeoutMs: config.acceptTimeoutMs, heartbeatMs: config.heartbeatMs });
    const sessions = new SessionMap(sessionsKv);
    const router = new Router({ self: options.self, selfStartedAt: options.selfStartedAt, local: options.local, dir, caller, sessions, config, rehydrate: options.rehydrate, mayCreateSession: options.mayCreateSession, onCall: options.onCall });
    return {
      nc, subjects: s, nodesKv, dir, caller, sessions, router,
      async close() {
        caller.close();
        dir.close();
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close().catch(() => {});
    throw err;
  }
}

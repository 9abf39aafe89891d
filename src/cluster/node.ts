/**
 * A node: a running Snakepit that joins the cluster. It advertises its pools, serves calls for
 * them, and routes its own calls (module API, HTTP, Connect) through the cluster's router.
 */

import { hostname } from "node:os";
import type { CallOptions } from "../facade/types.ts";
import { LocalLoad, type NodeAdvert } from "./advert.ts";
import { Advertiser } from "./advertiser.ts";
import { type ClusterConfig, parseClusterConfig } from "../config/cluster.ts";
import type { NodeView } from "./directory.ts";
import { localOptions, type LocalRunner, type NodeFacade } from "./local.ts";
import { type Membership, openMembership } from "./member.ts";
import { NodeServer, type ServedCall } from "./node-server.ts";
import type { RoutedCall } from "./router.ts";
import pkg from "../../package.json" with { type: "json" };

/** What a node reports about calls (the facade turns them into events). */
export interface ClusterNodeHooks {
  onCall?(call: RoutedCall): void;
  onServed?(call: ServedCall): void;
  onNodeLost?(node: string): void;
  rehydrate?: (ctx: { sessionId: string; pool: string; lostNode: string }) => Promise<void> | void;
}

/** This process's membership as a node. */
export class ClusterNode {
  readonly name: string;
  readonly config: ClusterConfig;
  readonly #m: Membership;
  readonly #server: NodeServer;
  readonly #advertiser: Advertiser;
  readonly #offs: Array<() => void>;
  #closing: Promise<void> | undefined;

  private constructor(name: string, config: ClusterConfig, m: Membership, server: NodeServer, advertiser: Advertiser, offs: Array<() => void>) {
    this.name = name;
    this.config = config;
    this.#m = m;
    this.#server = server;
    this.#advertiser = advertiser;
    this.#offs = offs;
  }

  /** Join: connect, advertise, serve. */
  static async join(input: unknown, pit: NodeFacade, hooks: ClusterNodeHooks = {}): Promise<ClusterNode> {
    const config = parseClusterConfig(input);
    const name = config.node ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, "-")}-${process.pid}`;
    const startedAt = Date.now();
    const load = new LocalLoad(pit);
    // Filled in below: the callbacks are needed before the parts they reach exist.
    const late: { server?: NodeServer; advertiser?: Advertiser; node?: ClusterNode } = {};
    const changed = () => {
      late.server?.pump();
      late.advertiser?.changed();
    };
    const waiting = (pool: string) => late.server?.waitingFor(pool) ?? 0;
    const ensureSession = (id: string) => {
      if (!pit.sessions.get(id)) pit.session(id);
    };
    const local: LocalRunner = {
      get poolNames() {
        return pit.poolNames;
      },
      hasPool: (pool) => pit.pools.has(pool),
      free: (pool) => load.free(pool, waiting(pool)),
      load: (pool) => load.load(pool, waiting(pool)),
      execute: (tool, args, options) => {
        const pool = options.pool!;
        if (options.sessionId !== undefined) ensureSession(options.sessionId);
        load.begin(pool);
        changed();
        return pit.execute(tool, args, localOptions(options)).finally(() => {
          load.end(pool);
          changed();
        });
      },
      stream: (tool, args, options) => {
        const pool = options.pool!;
        if (options.sessionId !== undefined) ensureSession(options.sessionId);
        const inner = pit.stream(tool, args, localOptions(options));
        return (async function* () {
          load.begin(pool);
          changed();
          try {
            yield* inner;
          } finally {
            load.end(pool);
            changed();
          }
        })();
      },
      ensureSession,
      endSession: (id) => void pit.sessions.delete(id),
    };
    const m = await openMembership(config, {
      name,
      self: name,
      selfStartedAt: startedAt,
      local,
      rehydrate: hooks.rehydrate,
      // As without a cluster: a call names a session this node created (pit.session), or one the cluster knows.
      mayCreateSession: (id) => pit.sessions.get(id) !== undefined,
      onCall: (call) => hooks.onCall?.(call),
    });
    const server = (late.server = new NodeServer(m.nc, {
      subjects: m.subjects,
      node: name,
      runner: local,
      readerTimeoutMs: config.nodeTimeoutMs,
      onServed: (call) => hooks.onServed?.(call),
      isVisible: () => performance.now() - (late.advertiser?.writtenAt ?? -Infinity) < config.nodeTimeoutMs - config.heartbeatMs,
    }));
    const build = (): NodeAdvert => {
      load.refresh();
      return {
        node: name,
        startedAt,
        updatedAt: Date.now(),
        pools: load.adverts(waiting),
        sessions: pit.sessions.size,
        served: server.served,
        version: pkg.version,
      };
    };
    const advertiser = (late.advertiser = new Advertiser(m.nodesKv, { node: name, build, heartbeatMs: config.heartbeatMs }));
    const workersChanged = () => {
      load.refresh();
      changed();
    };
    const offs = [
      pit.on("worker.started", workersChanged), pit.on("worker.exited", workersChanged),
      m.dir.onLost((node) => hooks.onNodeLost?.(node)),
    ];
    // A session deleted here (handle, HTTP) ends on its node and leaves the sessions bucket.
    offs.push(pit.on("session.deleted", (e) => void late.node?.endSession(e.session).catch(() => {})));
    server.start();
    await advertiser.publish();
    return (late.node = new ClusterNode(name, config, m, server, advertiser, offs));
  }

  /** Run a call wherever the cluster has room (this node included). */
  execute(tool: string, args: Record<string, unknown>, options: CallOptions): Promise<unknown> {
    return this.#m.router.execute(tool, args, options);
  }

  stream(tool: string, args: Record<string, unknown>, options: CallOptions): AsyncGenerator<unknown, void, undefined> {
    return this.#m.router.stream(tool, args, options);
  }

  /** The pool a call without `pool` goes to. */
  poolName(pool: string | undefined): string {
    return this.#m.router.poolName(pool);
  }

  /** Every node the cluster knows of (live, and lost ones not yet forgotten). */
  nodes(): NodeView[] {
    return this.#m.dir.list();
  }

  /** Forget a session cluster-wide. */
  async endSession(id: string): Promise<void> {
    const record = await this.#m.sessions.get(id);
    if (record && record.node !== this.name) this.#m.caller.endSession(record.node, id);
    await this.#m.sessions.forget(id);
  }

  /**
   * Leave: stop taking calls, give running ones `graceMs` to finish and answer, remove the
   * advertisement, close the connection. Idempotent.
   */
  close(options: { graceMs?: number | undefined } = {}): Promise<void> {
    this.#closing ??= (async () => {
      for (const off of this.#offs) off();
      await this.#server.stop(options.graceMs ?? 6_000);
      await this.#advertiser.close();
      await this.#m.close();
    })();
    return this.#closing;
  }
}

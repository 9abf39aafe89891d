/**
 * A client-only cluster handle (`Snakepit.connect({ cluster })`): runs no workers, calls into
 * the cluster's nodes.
 */

import type { CallOptions } from "../facade/types.ts";
import { type ClusterConfigInput, parseClusterConfig } from "../config/cluster.ts";
import type { NodeView } from "./directory.ts";
import { type Membership, openMembership } from "./member.ts";
import type { RoutedCall } from "./router.ts";

/** Options of `Snakepit.connect()`. */
export interface ConnectOptions {
  /** The cluster to call into (a URL, or the full settings). */
  cluster: ClusterConfigInput | string;
  /** Told about every call: which node served it, how long it took. */
  onCall?: (call: RoutedCall) => void;
  /** Rebuild a strict session's state after its node was lost (see `StartHooks.rehydrate`). */
  rehydrate?: (ctx: { sessionId: string; pool: string; lostNode: string; session: ClusterSession }) => Promise<void> | void;
}

/** A session's calls through a client handle: they all run on the session's node. */
export interface ClusterSession {
  readonly id: string;
  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: Omit<CallOptions, "sessionId">): Promise<T>;
  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: Omit<CallOptions, "sessionId">): AsyncGenerator<T, void, undefined>;
  /** End the session on its node and forget it cluster-wide. */
  close(): Promise<void>;
}

/**
 * A handle on a cluster that runs no workers of its own.
 *
 * @example
 * ```ts
 * await using client = await Snakepit.connect({ cluster: "nats://127.0.0.1:4222" });
 * await client.execute("add", { a: 1, b: 2 });
 * ```
 */
export class ClusterClient implements AsyncDisposable {
  readonly #m: Membership;
  #closing: Promise<void> | undefined;

  private constructor(m: Membership) {
    this.#m = m;
  }

  static async connect(options: ConnectOptions): Promise<ClusterClient> {
    const config = parseClusterConfig(options.cluster);
    const late: { client?: ClusterClient } = {};
    const m = await openMembership(config, {
      name: `client-${crypto.randomUUID().slice(0, 8)}`,
      self: undefined,
      selfStartedAt: undefined,
      local: undefined,
      onCall: (call) => options.onCall?.(call),
      ...(options.rehydrate ? { rehydrate: (ctx) => options.rehydrate!({ ...ctx, session: late.client!.session(ctx.sessionId) }) } : {}),
    });
    return (late.client = new ClusterClient(m));
  }

  execute<T = unknown>(tool: string, args: Record<string, unknown> = {}, options: CallOptions = {}): Promise<T> {
    return this.#m.router.execute(tool, args, options) as Promise<T>;
  }

  stream<T = unknown>(tool: string, args: Record<string, unknown> = {}, options: CallOptions = {}): AsyncGenerator<T, void, undefined> {
    return this.#m.router.stream(tool, args, options) as AsyncGenerator<T, void, undefined>;
  }

  /** A session handle: its calls go to the node that holds it. */
  session(id: string): ClusterSession {
    return {
      id,
      execute: (tool, args, opts) => this.execute(tool, args, { ...opts, sessionId: id }),
      stream: (tool, args, opts) => this.stream(tool, args, { ...opts, sessionId: id }),
      close: async () => {
        const record = await this.#m.sessions.get(id);
        if (record) this.#m.caller.endSession(record.node, id);
        await this.#m.sessions.forget(id);
      },
    };
  }

  /** The cluster's nodes, their pools and free capacity. */
  nodes(): NodeView[] {
    return this.#m.dir.list();
  }

  close(): Promise<void> {
    this.#closing ??= this.#m.close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The node's own pools as the cluster layer sees them: run a call here, bypassing the router. */

import type { CallOptions, SessionHandle } from "../facade/types.ts";
import type { EventName, SnakepitEvents } from "../telemetry/bus.ts";
import type { LoadSource } from "./advert.ts";

/** Marks a call that must run on this node's pools (it came from the cluster, or was placed here). */
export const LOCAL_CALL: unique symbol = Symbol.for("snakepit.cluster.local");

/** True when the options carry the local mark. */
export function isLocalCall(options: object | undefined): boolean {
  return options !== undefined && (options as { [LOCAL_CALL]?: boolean })[LOCAL_CALL] === true;
}

/** Options with the local mark. */
export function localOptions<T extends object>(options: T): T {
  return { ...options, [LOCAL_CALL]: true };
}

/** What the cluster needs from the node's facade. */
export interface LocalRunner {
  readonly poolNames: readonly string[];
  hasPool(pool: string): boolean;
  /** Free slots of `pool` now (calls waiting in the node's line count as taken). */
  free(pool: string): number;
  /** Calls per slot of `pool` (in flight, queued, waiting). */
  load(pool: string): number;
  execute(tool: string, args: Record<string, unknown>, options: CallOptions): Promise<unknown>;
  stream(tool: string, args: Record<string, unknown>, options: CallOptions): AsyncGenerator<unknown, void, undefined>;
  /** Create the session here if this node does not know it yet. */
  ensureSession(id: string): void;
  endSession(id: string): void;
}

/** What a node uses of its Snakepit (the facade passes itself). */
export interface NodeFacade extends LoadSource {
  readonly sessions: { get(id: string): unknown; delete(id: string): boolean; readonly size: number };
  session(id: string): SessionHandle;
  execute(tool: string, args: Record<string, unknown>, options: CallOptions): Promise<unknown>;
  stream(tool: string, args: Record<string, unknown>, options: CallOptions): AsyncGenerator<unknown, void, undefined>;
  on<K extends EventName>(name: K, handler: (data: SnakepitEvents[K]) => void): () => void;
}

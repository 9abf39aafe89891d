/**
 * Where a session's call goes: the node recorded for the session, which claims it on its first
 * call. When that node is gone, `hint` sessions move silently (their state is a cache); strict
 * sessions fail once with `session_worker_lost`, or, with a rehydrate hook, move and rehydrate
 * on the node they land on before the call runs.
 */

import { SnakepitError } from "../errors.ts";
import type { NodeDirectory } from "./directory.ts";
import type { LocalRunner } from "./local.ts";
import type { SessionMap, SessionRecord } from "./session-map.ts";

type Target = { local: true } | { local: false; node: string; mayQueue: boolean };

/** What placing a session needs. */
export interface SessionPlacementDeps {
  self: string | undefined;
  /** When this node joined (undefined for a client). */
  selfStartedAt: number | undefined;
  local: LocalRunner | undefined;
  dir: NodeDirectory;
  sessions: SessionMap;
  rehydrate?: ((ctx: { sessionId: string; pool: string; lostNode: string }) => Promise<void> | void) | undefined;
  /** False when a session unknown to the cluster must not be created by its first call (a node's facade). */
  mayCreate(sessionId: string): boolean;
  /** Placement of a call without a session (for the session's first call). */
  place(pool: string, exclude: ReadonlySet<string>): Target | undefined;
}

function target(deps: SessionPlacementDeps, node: string): Target {
  return node === deps.self ? { local: true } : { local: false, node, mayQueue: true };
}

function startedAt(deps: SessionPlacementDeps, node: string): number | undefined {
  return node === deps.self ? deps.selfStartedAt : deps.dir.startedAt(node);
}

/** The session's node is up and is the same process that took the session (not a restart). */
function alive(deps: SessionPlacementDeps, record: SessionRecord): boolean {
  const up = record.node === deps.self ? deps.local !== undefined : deps.dir.isAlive(record.node);
  return up && (record.nodeStartedAt === undefined || record.nodeStartedAt === startedAt(deps, record.node));
}

/** The target of a call of `sessionId`, claiming or moving the session as needed. */
export async function placeSession(
  deps: SessionPlacementDeps,
  call: { pool: string; sessionId: string; affinity: string | undefined; exclude: ReadonlySet<string> },
): Promise<Target | undefined> {
  const { sessions } = deps;
  let record = await sessions.get(call.sessionId);
  if (record && !alive(deps, record)) record = await sessions.get(call.sessionId, true);
  if (record && alive(deps, record) && !call.exclude.has(record.node)) return target(deps, record.node);
  if (!record && !deps.mayCreate(call.sessionId)) {
    throw new SnakepitError("session_not_found", `No session "${call.sessionId}" on this node or in the cluster (it may have expired)`, { details: { session: call.sessionId } });
  }
  const lostNode = record?.node;
  const fresh = deps.place(call.pool, call.exclude);
  if (!fresh) return undefined;
  const node = fresh.local ? deps.self! : fresh.node;
  const claimed = await sessions.claim(call.sessionId, { node, pool: call.pool, nodeStartedAt: startedAt(deps, node) });
  if (lostNode !== undefined && claimed.node === node) {
    const mode = call.affinity ?? deps.dir.affinity(call.pool) ?? "hint";
    if (mode !== "hint") {
      const lost = new SnakepitError("session_worker_lost", `Session "${call.sessionId}" was on node "${lostNode}", which is gone or restarted; its state is lost`, {
        details: { session: call.sessionId, pool: call.pool, node: lostNode, worker: lostNode },
      });
      if (!deps.rehydrate) {
        // Reported once: the session's next call starts fresh on its new node.
        throw lost;
      }
      await deps.rehydrate({ sessionId: call.sessionId, pool: call.pool, lostNode });
    }
  }
  return target(deps, claimed.node);
}

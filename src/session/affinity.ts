/**
 * Session affinity, the seed's three modes. Pure: given the workers, the session's pinned
 * worker and the mode, say where a call goes.
 *
 * - hint: the pinned worker if it has a free slot, else any (the session moves).
 * - strict_queue: the pinned worker; wait for it when busy.
 * - strict_fail_fast: the pinned worker; `worker_busy` at once when busy.
 * In strict modes a pinned worker that is gone (crashed, recycled) is `session_worker_lost`.
 */

import { SnakepitError } from "../errors.ts";

/** The affinity modes. */
export const AFFINITY_MODES = ["hint", "strict_queue", "strict_fail_fast"] as const;
export type AffinityMode = (typeof AFFINITY_MODES)[number];

/** What a worker must offer for affinity decisions. */
export interface Pinnable {
  readonly id: string;
  readonly state: string;
  readonly hasCapacity: boolean;
}

/** Where a call goes. */
export type Placement<W> =
  | { kind: "any" }
  | { kind: "run"; worker: W }
  | { kind: "wait"; worker: W }
  | { kind: "lost"; workerId: string }
  | { kind: "fail"; error: SnakepitError };

/** Decide placement for a call of `sessionId` pinned to `pinnedId` (undefined: not pinned yet). */
export function place<W extends Pinnable>(workers: readonly W[], pinnedId: string | undefined, mode: AffinityMode, sessionId: string): Placement<W> {
  if (pinnedId === undefined) return { kind: "any" };
  const pinned = workers.find((w) => w.id === pinnedId && w.state === "ready");
  if (mode === "hint") return pinned?.hasCapacity ? { kind: "run", worker: pinned } : { kind: "any" };
  if (!pinned) return { kind: "lost", workerId: pinnedId };
  if (pinned.hasCapacity) return { kind: "run", worker: pinned };
  if (mode === "strict_queue") return { kind: "wait", worker: pinned };
  return {
    kind: "fail",
    error: new SnakepitError("worker_busy", `Worker "${pinnedId}" of session "${sessionId}" is busy (affinity strict_fail_fast)`, {
      details: { session: sessionId, worker: pinnedId },
    }),
  };
}

/**
 * A session leased for one call: the only writer of a session's call state. Taking a lease
 * counts the call in flight; `bind` records the worker holding the session's Python state per
 * pool (a hint-mode move says which worker to tell to drop it); `release` counts the outcome,
 * and the last release of a session that ended meanwhile runs its deferred cleanup.
 */

import type { Session } from "./store.ts";

/** What a lease reports back to its manager. */
export interface LeaseOwner {
  /** The last lease of an ended session was released: drop its state now. */
  deferredCleanup(session: Session): void;
  now(): number;
}

export class SessionLease implements Disposable {
  readonly #session: Session;
  readonly #owner: LeaseOwner;
  readonly #startedAt: number;
  #released = false;

  constructor(session: Session, owner: LeaseOwner) {
    this.#session = session;
    this.#owner = owner;
    this.#startedAt = owner.now();
    session.inFlight++;
  }

  get id(): string {
    return this.#session.id;
  }

  /** The worker of `pool` holding this session's state, if any. */
  pinned(pool: string): string | undefined {
    return this.#session.workers[pool];
  }

  /** Record that `worker` of `pool` now holds the session's state; returns the worker it moved from, if any. */
  bind(pool: string, worker: string): string | undefined {
    const previous = this.#session.workers[pool];
    if (previous === worker) return undefined;
    this.#session.workers[pool] = worker;
    return previous;
  }

  /** Forget the binding to `worker` (it is gone); false when the session was bound elsewhere already. */
  unbind(pool: string, worker: string): boolean {
    if (this.#session.workers[pool] !== worker) return false;
    delete this.#session.workers[pool];
    return true;
  }

  /** End the call: count it, and run the deferred cleanup if the session ended meanwhile. Idempotent. */
  release(ok: boolean): void {
    if (this.#released) return;
    this.#released = true;
    const s = this.#session;
    const now = this.#owner.now();
    s.inFlight--;
    if (ok) s.stats.calls++;
    else s.stats.errors++;
    s.stats.lastCallAt = now;
    s.stats.totalMs += now - this.#startedAt;
    if (s.ended && s.inFlight === 0) this.#owner.deferredCleanup(s);
  }

  /** `using lease = sessions.lease(id)`: a lease disposed without `release(true)` counts as an error. */
  [Symbol.dispose](): void {
    this.release(false);
  }
}

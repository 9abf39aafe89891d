/**
 * The calls waiting for a worker, in fair order: waiters are grouped by a fairness key (the
 * caller's `client`, else the tool), FIFO inside a key, and keys share the workers' time
 * (start-time fair queuing): each key has a virtual clock that a served call advances by what
 * that key's calls take on average, and a free slot goes to the waiting key whose clock is
 * lowest (ties: round-robin). So a key with one call waiting is served next even when another
 * has a thousand, and a key of 200 ms calls gets no more worker time than a key of 1 ms calls.
 * A key that was idle starts at the current virtual time: no credit is banked.
 * O(keys) per take; removal by identity (aborts, timeouts) is O(1).
 */

/** Idle keys whose average cost is remembered (callers may name any number of keys). */
const REMEMBERED_KEYS = 1_024;
/** What a served call costs its key at least, ms (a key whose calls are not timed, streams, still advances). */
const MIN_COST_MS = 0.1;

/** A call waiting for a free worker. */
export interface Waiter<W> {
  /** Start the call on `worker`; must take the slot synchronously. */
  run(worker: W): void;
  /** Can this waiter use `worker`? (strict affinity narrows the choice) */
  accepts?: ((worker: W) => boolean) | undefined;
  /** Id of the only worker this waiter accepts, if any. */
  pinnedTo?: string | undefined;
  fail(reason: unknown): void;
  enqueuedAt: number;
  /** For calls any worker may take: a worker with a free or prefetch slot now, or undefined. */
  pick?: (() => W | undefined) | undefined;
  /** Take it out of the queue (false when it already left). */
  remove?: (() => boolean) | undefined;
  /** Fairness key. @default "" (one FIFO) */
  key?: string | undefined;
}

/** The waiters of one key, its virtual clock and the average time its calls take, ms. */
interface Lane<W> {
  key: string;
  head: Node<W> | undefined;
  tail: Node<W> | undefined;
  vt: number;
  cost: number;
  /** Neighbours in the ring of keys with waiters. */
  prev: Lane<W> | undefined;
  next: Lane<W> | undefined;
}

interface Node<W> {
  waiter: Waiter<W>;
  lane: Lane<W>;
  prev: Node<W> | undefined;
  next: Node<W> | undefined;
  linked: boolean;
}

export class WaitQueue<W> {
  readonly #lanes = new Map<string, Lane<W>>();
  /** Average cost of keys with nothing waiting, oldest first. */
  readonly #costs = new Map<string, number>();
  /** Virtual time: the start tag of the call served last. */
  #vt = 0;
  /** Next key in round-robin order (a ring of the keys with waiters). */
  #cursor: Lane<W> | undefined;
  #waitingKeys = 0;
  #size = 0;
  /** The node `peek` returned last (`take` of its waiter is then O(1)). */
  #peeked: Node<W> | undefined;

  get size(): number {
    return this.#size;
  }

  /** How many keys have calls waiting. */
  get keys(): number {
    return this.#waitingKeys;
  }

  /** Add at the end of its key; returns a function that removes it again (no-op once taken). */
  push(waiter: Waiter<W>): () => boolean {
    const lane = this.#lane(waiter.key ?? "");
    const node: Node<W> = { waiter, lane, prev: lane.tail, next: undefined, linked: true };
    if (lane.tail) lane.tail.next = node;
    else this.#enter(lane, node);
    lane.tail = node;
    this.#size++;
    return () => this.#unlink(node);
  }

  /** Add at the front of its key (a call whose worker never started it); returns its remover. */
  unshift(waiter: Waiter<W>): () => boolean {
    const lane = this.#lane(waiter.key ?? "");
    const node: Node<W> = { waiter, lane, prev: undefined, next: lane.head, linked: true };
    if (lane.head) lane.head.prev = node;
    else {
      this.#enter(lane, node);
      lane.tail = node;
    }
    lane.head = node;
    this.#size++;
    return () => this.#unlink(node);
  }

  /** Take the next waiter (fair order) that accepts `worker` and `eligible` allows (report its time with `release`). */
  takeFor(worker: W, eligible?: (waiter: Waiter<W>) => boolean): Waiter<W> | undefined {
    const node = this.#next((w) => (!w.accepts || w.accepts(worker)) && (!eligible || eligible(w)));
    if (!node) return undefined;
    this.#served(node);
    return node.waiter;
  }

  /** The waiter fair order serves next among those matching `predicate`, left in place (see `take`). */
  peek(predicate: (waiter: Waiter<W>) => boolean): Waiter<W> | undefined {
    const node = this.#next(predicate);
    this.#peeked = node;
    return node?.waiter;
  }

  /** Take a queued waiter (as `peek` returned it) to run now; false when it already left. */
  take(waiter: Waiter<W>): boolean {
    let node = this.#peeked?.waiter === waiter ? this.#peeked : undefined;
    for (let lane = this.#cursor, i = 0; !node && lane && i < this.#waitingKeys; lane = lane.next, i++) {
      for (let n = lane.head; n; n = n.next) if (n.waiter === waiter) node = n;
    }
    if (!node?.linked) return false;
    this.#served(node);
    return true;
  }

  /** A waiter taken from the queue ended its call after `ms`: the average cost of its key learns it. */
  release(waiter: Waiter<W>, ms: number): void {
    const key = waiter.key ?? "";
    const lane = this.#lanes.get(key);
    const before = lane ? lane.cost : this.#costs.get(key);
    const cost = before === undefined ? ms : before + (ms - before) * 0.2;
    if (lane) lane.cost = cost;
    else this.#remember(key, cost);
  }

  /** The first waiter (fair order) matching `predicate`, left in place. */
  firstWhere(predicate: (waiter: Waiter<W>) => boolean): Waiter<W> | undefined {
    return this.#next(predicate)?.waiter;
  }

  /** Remove and return the waiters matching `predicate`. */
  removeWhere(predicate: (waiter: Waiter<W>) => boolean): Waiter<W>[] {
    const matched: Node<W>[] = [];
    this.#each((node) => predicate(node.waiter) && matched.push(node));
    for (const node of matched) this.#unlink(node);
    return matched.map((node) => node.waiter);
  }

  /** Remove and return everything. */
  drain(): Waiter<W>[] {
    const out: Waiter<W>[] = [];
    this.#each((node) => {
      node.linked = false;
      out.push(node.waiter);
    });
    for (const lane of this.#lanes.values()) this.#remember(lane.key, lane.cost);
    this.#lanes.clear();
    this.#cursor = this.#peeked = undefined;
    this.#waitingKeys = this.#size = 0;
    return out;
  }

  #each(visit: (node: Node<W>) => unknown): void {
    for (let lane = this.#cursor, i = 0; lane && i < this.#waitingKeys; lane = lane.next, i++) {
      for (let node = lane.head; node; node = node.next) visit(node);
    }
  }

  /** In each waiting key (round-robin from the cursor) its first match; of those, the key with the lowest virtual clock wins. */
  #next(predicate: (waiter: Waiter<W>) => boolean): Node<W> | undefined {
    let best: Node<W> | undefined;
    for (let lane = this.#cursor, i = 0; lane && i < this.#waitingKeys; lane = lane.next, i++) {
      if (best && lane.vt >= best.lane.vt) continue;
      for (let node = lane.head; node; node = node.next) {
        if (predicate(node.waiter)) {
          best = node;
          break;
        }
      }
    }
    return best;
  }

  #served(node: Node<W>): void {
    const lane = node.lane;
    this.#vt = lane.vt;
    lane.vt += Math.max(lane.cost, MIN_COST_MS);
    this.#cursor = lane.next;
    this.#unlink(node);
  }

  #lane(key: string): Lane<W> {
    let lane = this.#lanes.get(key);
    if (!lane) {
      const cost = this.#costs.get(key) ?? 0;
      this.#costs.delete(key);
      lane = { key, head: undefined, tail: undefined, vt: 0, cost, prev: undefined, next: undefined };
      this.#lanes.set(key, lane);
    }
    return lane;
  }

  #remember(key: string, cost: number): void {
    this.#costs.delete(key);
    this.#costs.set(key, cost);
    if (this.#costs.size > REMEMBERED_KEYS) this.#costs.delete(this.#costs.keys().next().value!);
  }

  /** A key gets its first waiter: it joins the ring, last in round-robin order, at the current virtual time. */
  #enter(lane: Lane<W>, node: Node<W>): void {
    lane.head = node;
    lane.vt = Math.max(lane.vt, this.#vt);
    const cursor = this.#cursor;
    if (!cursor) {
      lane.prev = lane.next = lane;
      this.#cursor = lane;
    } else {
      lane.prev = cursor.prev;
      lane.next = cursor;
      cursor.prev!.next = lane;
      cursor.prev = lane;
    }
    this.#waitingKeys++;
  }

  /** A key's last waiter left: out of the ring; only its average cost is remembered. */
  #leave(lane: Lane<W>): void {
    if (lane.next === lane) this.#cursor = undefined;
    else {
      lane.prev!.next = lane.next;
      lane.next!.prev = lane.prev;
      if (this.#cursor === lane) this.#cursor = lane.next;
    }
    lane.prev = lane.next = undefined;
    this.#waitingKeys--;
    this.#lanes.delete(lane.key);
    this.#remember(lane.key, lane.cost);
  }

  #unlink(node: Node<W>): boolean {
    if (!node.linked) return false;
    node.linked = false;
    if (this.#peeked === node) this.#peeked = undefined;
    const lane = node.lane;
    if (node.prev) node.prev.next = node.next;
    else lane.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else lane.tail = node.prev;
    this.#size--;
    if (!lane.head) this.#leave(lane);
    return true;
  }
}

/** A FIFO of calls waiting for a worker, with removal by identity (aborts, timeouts). */

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
}

/** Doubly linked FIFO: O(1) push, shift and removal. */
export class WaitQueue<W> {
  #head: Node<W> | undefined;
  #tail: Node<W> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Add at the end; returns a function that removes it again (no-op once taken). */
  push(waiter: Waiter<W>): () => boolean {
    const node: Node<W> = { waiter, prev: this.#tail, next: undefined, linked: true };
    if (this.#tail) this.#tail.next = node;
    else this.#head = node;
    this.#tail = node;
    this.#size++;
    return () => this.#unlink(node);
  }

  /** Add at the front (a call whose worker never started it); returns its remover. */
  unshift(waiter: Waiter<W>): () => boolean {
    const node: Node<W> = { waiter, prev: undefined, next: this.#head, linked: true };
    if (this.#head) this.#head.prev = node;
    else this.#tail = node;
    this.#head = node;
    this.#size++;
    return () => this.#unlink(node);
  }

  /** Take the first waiter that accepts `worker`. */
  takeFor(worker: W): Waiter<W> | undefined {
    for (let node = this.#head; node; node = node.next) {
      if (!node.waiter.accepts || node.waiter.accepts(worker)) {
        this.#unlink(node);
        return node.waiter;
      }
    }
    return undefined;
  }

  /** The first waiter matching `predicate`, left in place. */
  firstWhere(predicate: (waiter: Waiter<W>) => boolean): Waiter<W> | undefined {
    for (let node = this.#head; node; node = node.next) if (predicate(node.waiter)) return node.waiter;
    return undefined;
  }

  /** Remove and return the waiters matching `predicate`. */
  removeWhere(predicate: (waiter: Waiter<W>) => boolean): Waiter<W>[] {
    const matched: Node<W>[] = [];
    for (let node = this.#head; node; node = node.next) if (predicate(node.waiter)) matched.push(node);
    for (const node of matched) this.#unlink(node);
    return matched.map((node) => node.waiter);
  }

  /** Remove and return everything. */
  drain(): Waiter<W>[] {
    const out: Waiter<W>[] = [];
    for (let node = this.#head; node; node = node.next) out.push(node.waiter);
    for (let node = this.#head; node; node = node.next) node.linked = false;
    this.#head = this.#tail = undefined;
    this.#size = 0;
    return out;
  }

  #unlink(node: Node<W>): boolean {
    if (!node.linked) return false;
    node.linked = false;
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    this.#size--;
    return true;
  }
}

interface Node<W> {
  waiter: Waiter<W>;
  prev: Node<W> | undefined;
  next: Node<W> | undefined;
  linked: boolean;
}

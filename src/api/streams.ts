/**
 * HTTP streaming bodies with backpressure: the next item is taken only when the client has read
 * the last one, so a slow or stalled client holds the producer (and, through stream credits, the
 * Python generator) instead of filling host memory. Quiet streams get keep-alive bytes.
 */

/** How to write a stream's items. */
export interface StreamFormat<T> {
  item(value: T): Uint8Array;
  end(): Uint8Array;
  error(err: unknown): Uint8Array;
  /** Sent after `keepAliveMs` without an item (an SSE comment, or an empty NDJSON line). */
  keepAlive: Uint8Array;
}

/** A ReadableStream that pulls from `it` one item per read. */
export function pullStream<T>(
  it: AsyncIterator<T>,
  format: StreamFormat<T>,
  options: {
    first?: IteratorResult<T>;
    keepAliveMs?: number;
    onClose?: () => void;
    /** Bytes written at once, before any item (so the response headers go out now). */
    preamble?: Uint8Array;
    /** Ask `it` for its first item at once, not on the first read (a subscription starts now). */
    prime?: boolean;
  } = {},
): ReadableStream<Uint8Array> {
  let first = options.first;
  let pending: Promise<IteratorResult<T>> | undefined;
  let closed = false;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const finish = () => {
    if (closed) return;
    closed = true;
    options.onClose?.();
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (options.preamble) controller.enqueue(options.preamble);
      if (options.prime && !first) {
        pending = it.next();
        pending.catch(() => {}); // surfaces when a read awaits it
      }
    },
    async pull(controller) {
      try {
        let next: IteratorResult<T>;
        if (first) {
          next = first;
          first = undefined;
        } else {
          pending ??= it.next();
          let timer: ReturnType<typeof setTimeout> | undefined;
          const quiet = new Promise<"quiet">((r) => (timer = setTimeout(() => r("quiet"), keepAliveMs)));
          const won = await Promise.race([pending, quiet]).finally(() => clearTimeout(timer));
          if (won === "quiet") {
            controller.enqueue(format.keepAlive);
            return;
          }
          pending = undefined;
          next = won;
        }
        if (next.done) {
          controller.enqueue(format.end());
          controller.close();
          finish();
          return;
        }
        controller.enqueue(format.item(next.value));
      } catch (err) {
        controller.enqueue(format.error(err));
        controller.close();
        finish();
      }
    },
    async cancel() {
      finish();
      await it.return?.(undefined);
    },
  }, { highWaterMark: 1 });
}

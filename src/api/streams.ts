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
  // One timer per stream (not one per item): a keep-alive goes out after a quiet spell while a
  // read waits for the next item. Per-item timers and races cost hundreds of subscribers dearly.
  let waiting = false;
  let lastWrite = Date.now();
  let ticker: ReturnType<typeof setInterval> | undefined;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(ticker);
    options.onClose?.();
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (options.preamble) controller.enqueue(options.preamble);
      ticker = setInterval(() => {
        if (!waiting || closed || Date.now() - lastWrite < keepAliveMs) return;
        lastWrite = Date.now();
        controller.enqueue(format.keepAlive);
      }, Math.max(1, Math.floor(keepAliveMs / 2)));
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
          const current = pending ?? it.next();
          pending = undefined;
          waiting = true;
          try {
            next = await current;
          } finally {
            waiting = false;
          }
        }
        if (closed) return;
        lastWrite = Date.now();
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

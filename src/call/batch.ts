/** Run many calls with bounded concurrency; every item gets its result or its typed error, in order. */

import { SnakepitError } from "../errors.ts";

/** One batch item's outcome. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: SnakepitError };

/**
 * Run `run(item, index)` for every item, at most `concurrency` at a time. Never rejects for an
 * item's failure: that item's entry holds its typed error.
 */
export async function settleAll<I, T>(items: readonly I[], concurrency: number, run: (item: I, index: number) => Promise<T>): Promise<Array<Settled<T>>> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new SnakepitError("invalid_argument", `concurrency must be a positive integer, got ${JSON.stringify(concurrency)}`, { details: { field: "concurrency" } });
  }
  const out = new Array<Settled<T>>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { ok: true, value: await run(items[i]!, i) };
      } catch (err) {
        out[i] = { ok: false, error: SnakepitError.from(err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return out;
}

/** One call of a batch. */
export interface BatchItem<O> {
  tool: string;
  args?: Record<string, unknown>;
  options?: O;
}

/** `settleAll` over batch items, refusing what is not an array of `{ tool, args?, options? }`. */
export function runBatch<O, T>(calls: unknown, concurrency: number, execute: (item: BatchItem<O>) => Promise<T>): Promise<Array<Settled<T>>> {
  if (!Array.isArray(calls)) {
    return Promise.reject(new SnakepitError("invalid_argument", "executeBatch expects an array of { tool, args?, options? }", { details: { field: "calls" } }));
  }
  return settleAll(calls as unknown[], concurrency, async (c, i) => {
    if (typeof c !== "object" || c === null) {
      throw new SnakepitError("invalid_argument", `batch item ${i} must be an object { tool, args?, options? }`, { details: { field: "calls", index: i } });
    }
    return execute(c as BatchItem<O>);
  });
}

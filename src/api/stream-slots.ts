/**
 * Open-stream accounting for the APIs: a cap across all clients, a cap per client address, and
 * a cap on event subscribers. `acquire()` throws a 429 error naming the limit; the returned
 * release function is idempotent.
 */

import { SnakepitError } from "../errors.ts";
import type { ApiLimits } from "./limits.ts";

export type StreamKind = "stream" | "events";

export interface StreamSlots {
  acquire(client: string, kind: StreamKind): () => void;
  /** Open streams now: total, by kind. */
  readonly open: { total: number; events: number };
}

function limitError(message: string, limit: string, value: number): SnakepitError {
  return new SnakepitError("pool_saturated", message, { details: { limit, [limit]: value } });
}

export function createStreamSlots(limits: ApiLimits): StreamSlots {
  const perClient = new Map<string, number>();
  const open = { total: 0, events: 0 };
  return {
    open,
    acquire(client, kind) {
      if (kind === "events" && open.events >= limits.maxEventSubscribers) {
        throw limitError(`Too many event subscribers: ${open.events} open, the limit is ${limits.maxEventSubscribers} (server.limits.maxEventSubscribers)`, "maxEventSubscribers", limits.maxEventSubscribers);
      }
      if (open.total >= limits.maxStreams) {
        throw limitError(`Too many open streams: ${open.total} open, the limit is ${limits.maxStreams} (server.limits.maxStreams)`, "maxStreams", limits.maxStreams);
      }
      const mine = perClient.get(client) ?? 0;
      if (mine >= limits.maxStreamsPerClient) {
        throw limitError(`Too many open streams from ${client}: ${mine} open, the limit is ${limits.maxStreamsPerClient} per client (server.limits.maxStreamsPerClient)`, "maxStreamsPerClient", limits.maxStreamsPerClient);
      }
      perClient.set(client, mine + 1);
      open.total++;
      if (kind === "events") open.events++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        open.total--;
        if (kind === "events") open.events--;
        const n = (perClient.get(client) ?? 1) - 1;
        if (n <= 0) perClient.delete(client);
        else perClient.set(client, n);
      };
    },
  };
}

/** The caller's address as the runtime reports it (Bun's server or Deno's serve info), else "local". */
export function clientAddress(req: Request, env: unknown): string {
  const e = env as { requestIP?: (r: Request) => { address: string } | null; remoteAddr?: { hostname?: string } } | undefined;
  try {
    return e?.requestIP?.(req)?.address ?? e?.remoteAddr?.hostname ?? "local";
  } catch {
    return "local";
  }
}

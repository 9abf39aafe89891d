/**
 * Host -> worker heartbeats (the seed's defaults: ping every 2 s, 10 s timeout, 3 misses). Pings
 * are answered by the worker's reading thread, so a long call never delays them; a worker that
 * cannot answer (SIGSTOPped, or holding the GIL in C code) misses them and is killed.
 */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";

export const HeartbeatSchema = z.object({
  enabled: z.boolean().default(true).describe("Ping workers and replace those that stop answering"),
  intervalMs: z.number().int().positive().max(MAX_TIMER_MS).default(2_000).describe("Time between pings"),
  timeoutMs: z.number().int().positive().max(MAX_TIMER_MS).default(10_000).describe("A ping unanswered this long is a miss"),
  maxMissed: z.number().int().min(1).default(3).describe("Misses in a row that get the worker killed and replaced"),
}).strict();
export type HeartbeatConfig = z.output<typeof HeartbeatSchema>;

/** Last heartbeat facts from a worker. */
export interface Beat {
  rssBytes: number;
  inFlight: number;
  sessions: number;
}

/**
 * Start pinging with `ping` (an RPC that rejects on timeout). Calls `onBeat` with each answer and
 * `onDead` once `maxMissed` pings in a row went unanswered. Returns the stop function.
 */
export function startHeartbeat(
  config: HeartbeatConfig,
  ping: (seq: number, timeoutMs: number) => Promise<Record<string, unknown>>,
  onBeat: (beat: Beat) => void,
  onDead: (missed: number) => void,
): () => void {
  if (!config.enabled) return () => {};
  let seq = 0;
  let missed = 0;
  let dead = false;
  const timer = setInterval(() => {
    ping(++seq, config.timeoutMs).then(
      (reply) => {
        missed = 0;
        onBeat({ rssBytes: Number(reply.rssBytes ?? 0), inFlight: Number(reply.inFlight ?? 0), sessions: Number(reply.sessions ?? 0) });
      },
      () => {
        if (dead) return;
        if (++missed >= config.maxMissed) {
          dead = true;
          clearInterval(timer);
          onDead(missed);
        }
      },
    );
  }, config.intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}

/** A small typed event bus: `on(name, handler)` and `emit(name, data)`; handlers never throw out. */

import { SnakepitError } from "../errors.ts";
import type { CrashInfo } from "../resilience/crash.ts";

/** Events and their payloads. */
export interface SnakepitEvents {
  "pool.ready": { pool: string; workers: number; durationMs: number };
  "pool.closed": { pool: string };
  "pool.draining": { pool: string; queued: number };
  "pool.resumed": { pool: string };
  /** The pool could not start its fork template (`startMode: "auto"`): its workers are spawned. */
  "pool.spawn_fallback": { pool: string; reason: string };
  "worker.spawned": { pool: string; worker: string; pid: number };
  "worker.started": { pool: string; worker: string; pid: number; durationMs: number };
  "worker.exited": { pool: string; worker: string; pid: number; exitCode: number | null; signal: string | null; expected: boolean; crash?: CrashInfo | undefined };
  "worker.recycled": { pool: string; worker: string; reason: string; replacedBy: string };
  "worker.heartbeat_missed": { pool: string; worker: string; missed: number };
  "device.tainted": { pool: string; device: string; untilMs: number };
  "gpu.sample": { device: string; kind: string; name: string; memoryUsedMb: number; memoryTotalMb: number; utilizationPct: number | null };
  "pool.thread_safety": { pool: string; library: string; status: string; notes: string };
  "pool.restart_storm": { pool: string; restarts: number; windowMs: number; pauseMs: number };
  "pool.health": { pool: string; healthy: boolean; recentCrashes: number };
  "circuit.state": { pool: string; from: string; to: string };
  "call.retry": { pool: string; tool: string; code: string; attempt: number; delayMs: number; reason: "crash" | "policy" };
  /** A call its worker never started runs again at the front of the queue. */
  "call.requeued": { pool: string; tool: string; worker: string };
  "worker.restart_failed": { pool: string; worker: string; error: string; attempt: number };
  "worker.log": { pool: string; worker: string; line: string };
  "call.start": { pool: string; tool: string; correlationId: string; sessionId: string | undefined };
  "call.stop": { pool: string; worker: string; tool: string; durationMs: number; queueMs: number; pythonMs: number; correlationId: string };
  "call.exception": {
    pool: string; worker: string | undefined; tool: string; code: string; durationMs: number; correlationId: string; pythonType: string | undefined;
    /** The error's message (at most 1000 characters) and the Python traceback's last 8 KiB, when there is one. */
    message?: string | undefined; traceback?: string | undefined;
  };
  "queue.rejected": { pool: string; tool: string; code: string };
  "telemetry.dropped": { dropped: number };
  "custom.event": { name: string; measurements: Record<string, number>; metadata: Record<string, string> };
  "session.created": { session: string };
  "session.deleted": { session: string };
  "session.expired": { session: string };
  "session.limit_warning": { sessions: number; maxSessions: number };
  "session.worker_lost": { session: string; pool: string; worker: string };
  "python.event": {
    pool: string;
    worker: string;
    name: string;
    measurements: Record<string, number>;
    metadata: Record<string, string>;
    timestampUs: number;
    correlationId: string | undefined;
  };
  "python.dropped": { pool: string; worker: string; dropped: number };
  /** A call made on this node ran on `servedBy` (this node or another). */
  "cluster.call": { node: string; pool: string; tool: string; servedBy: string; durationMs: number; outcome: string; attempts: number };
  /** This node served a call for `from` (another node or a client). */
  "cluster.served": { node: string; from: string; pool: string; tool: string; durationMs: number; outcome: string };
  "cluster.node_lost": { node: string };
}

/** Name of an event. */
export type EventName = keyof SnakepitEvents;

type Handler<K extends EventName> = (data: SnakepitEvents[K]) => void;

/** Any event, as the catch-all listeners and the event stream see it. */
export interface AnyEvent {
  name: EventName;
  /** Milliseconds since the Unix epoch. */
  time: number;
  data: SnakepitEvents[EventName];
}

/** Most catch-all listeners a bus takes (event streams, exporters): each costs work per event. */
export const MAX_ANY_LISTENERS = 4_096;

export class EventBus {
  readonly #handlers = new Map<EventName, Set<Handler<EventName>>>();
  readonly #any = new Set<(event: AnyEvent) => void>();
  readonly #maxAny: number;

  constructor(options: { maxAnyListeners?: number } = {}) {
    this.#maxAny = options.maxAnyListeners ?? MAX_ANY_LISTENERS;
  }

  /** Subscribe to every event; returns the unsubscribe function. Throws past `maxAnyListeners`. */
  onAny(handler: (event: AnyEvent) => void): () => void {
    if (this.#any.size >= this.#maxAny) {
      throw new SnakepitError("pool_saturated", `Too many event subscribers: the bus takes at most ${this.#maxAny} catch-all listeners`, {
        details: { limit: "maxAnyListeners", maxAnyListeners: this.#maxAny },
      });
    }
    this.#any.add(handler);
    return () => this.#any.delete(handler);
  }

  /** Subscribe; returns the unsubscribe function. */
  on<K extends EventName>(name: K, handler: Handler<K>): () => void {
    let set = this.#handlers.get(name);
    if (!set) this.#handlers.set(name, (set = new Set()));
    set.add(handler as Handler<EventName>);
    return () => set.delete(handler as Handler<EventName>);
  }

  /** True when someone listens (lets hot paths skip building payloads). */
  has(name: EventName): boolean {
    return this.#any.size > 0 || (this.#handlers.get(name)?.size ?? 0) > 0;
  }

  emit<K extends EventName>(name: K, data: SnakepitEvents[K]): void {
    if (this.#any.size > 0) {
      const event: AnyEvent = { name, time: Date.now(), data };
      for (const handler of this.#any) {
        try {
          handler(event);
        } catch (err) {
          console.error(`snakepit: an event listener threw on "${name}":`, err);
        }
      }
    }
    const set = this.#handlers.get(name);
    if (!set) return;
    for (const handler of set) {
      try {
        handler(data);
      } catch (err) {
        console.error(`snakepit: a "${name}" handler threw:`, err);
      }
    }
  }
}

/** What the call lifecycle needs from the pool it runs in, and the per-call options. */

import type { Clock } from "../core/clock.ts";
import type { SnakepitError } from "../errors.ts";
import type { AffinityMode } from "../session/affinity.ts";
import type { SessionLease } from "../session/lease.ts";
import type { EventBus } from "../telemetry/bus.ts";
import type { WorkerLink } from "../worker/link.ts";
import type { CallGuard } from "./guard.ts";

/** Per-call options at the pool level. */
export interface ExecuteOptions {
  /** Total budget for the call, queue wait included. Default: the tool's own (`@tool(timeout_ms=...)`), else the pool's timeout profile. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Session affinity for this call. Default: the pool's `affinity`. */
  affinity?: AffinityMode | undefined;
  metadata?: Record<string, string> | undefined;
  traceparent?: string | undefined;
  correlationId?: string | undefined;
  /** Safe to run again: retried on another worker if this one crashes (crash barrier). */
  idempotent?: boolean | undefined;
  /** Marks the call idempotent and reaches Python as metadata "idempotency-key", for deduplication. */
  idempotencyKey?: string | undefined;
  /** Who calls (a tenant, a user): queued calls are served fairly between clients. Default: fair between tools. */
  client?: string | undefined;
}

/** Counters the lifecycle keeps (the pool's stats). */
export interface CallStats {
  requests: number;
  failed: number;
  /** A successful call's total latency. */
  record(ms: number): void;
}

/** Where a call should run and how long it may wait. */
export interface DispatchRequest {
  lease: SessionLease | undefined;
  mode: AffinityMode;
  /** May be held in a busy worker's pipe (unary calls only). */
  prefetch: boolean;
  deadline: number;
  signal: AbortSignal | undefined;
  /** The previous attempt never started: go to the front of the queue. */
  front: boolean;
  /** Fair queuing: the tool, and the caller's `client` key if any. */
  tool?: string | undefined;
  client?: string | undefined;
}

/** A pool as the lifecycle sees it. */
export interface CallHost {
  readonly name: string;
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly stats: CallStats;
  readonly guard: CallGuard;
  readonly isClosed: boolean;
  readonly affinity: AffinityMode;
  closedError(): SnakepitError;
  newCorrelationId(): string;
  /** The default budget of `tool`: its own declared deadline, else the pool's. */
  budgetMs(tool: string, streaming: boolean): number;
  /** Place (session affinity) and dispatch (queue): run `start` on a worker. `start` must take its slot synchronously. */
  dispatch<T>(req: DispatchRequest, start: (worker: WorkerLink, queueMs: number) => T | Promise<T>): Promise<T>;
  /** Rebuild a strict session's state after its worker was lost (the start hook), if any. */
  readonly rehydrate: ((lease: SessionLease, lostWorker: string) => Promise<void>) | undefined;
  /** Stream consumer stall limit, ms. */
  readonly streamStallMs: number;
}

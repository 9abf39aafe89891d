/** Shapes of the public facade (`Snakepit`): call options, hooks, handles, figures. */

import type { ExecuteOptions } from "../call/host.ts";
import type { ShmStats } from "../bridge/shm-lifecycle.ts";
import type { PoolStatsSnapshot } from "../pool/stats.ts";
import type { SessionStatsView } from "../session/sessions.ts";
import type { JsonValue, Session } from "../session/store.ts";
import type { EventName, SnakepitEvents } from "../telemetry/bus.ts";
import type { LogSink } from "../telemetry/logger.ts";
import type { HostToolDefinition } from "../tools/registry.ts";
import type { ToolSpec } from "../worker/link.ts";
import type { z } from "zod";

/** Options of one call through the facade. */
export interface CallOptions extends ExecuteOptions {
  /** Pool to use. @default the first pool */
  pool?: string | undefined;
  /** Run in this session: its worker (affinity), its Python state, its host tools. */
  sessionId?: string | undefined;
}

/** Figures of every pool. */
export interface SnakepitStats {
  pools: Record<string, PoolStatsSnapshot>;
  workers: number;
  queued: number;
  inFlight: number;
  requests: number;
  completed: number;
  failed: number;
  sessions: number;
  /** Shared-memory payloads of this host (all pools): see docs/shared-memory.md. */
  shm: ShmStats;
}

/** What the rehydrate hook gets when a strict-affinity session lost its worker. */
export interface RehydrateContext {
  sessionId: string;
  pool: string;
  /** The worker that held the state and is gone. */
  lostWorker: string;
  /** Calls made through this handle go to the session's new worker. */
  session: SessionHandle;
}

/** Listeners and hooks attached before the pools start. */
export interface StartHooks {
  on?: { [K in EventName]?: (data: SnakepitEvents[K]) => void };
  /**
   * Rebuild a session's state on a new worker after its pinned worker died (strict affinity).
   * Without it, the session's next call fails with `session_worker_lost`.
   */
  rehydrate?: (ctx: RehydrateContext) => Promise<void> | void;
  /** Where log records go. @default JSON lines on stderr */
  logSink?: LogSink;
}

/** A session's view of the pit: every call carries the session id. */
export interface SessionHandle {
  readonly id: string;
  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: Omit<CallOptions, "sessionId">): Promise<T>;
  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: Omit<CallOptions, "sessionId">): AsyncGenerator<T, void, undefined>;
  /** Host tools only this session's Python calls can see. */
  readonly tools: { register<S extends z.ZodType>(name: string, definition: HostToolDefinition<S>): () => void };
  /** The session's record (touches it); undefined once it ended. */
  info(): Session | undefined;
  /** True while the session exists (does not touch it). */
  exists(): boolean;
  /** Replace the session's metadata with any JSON value. */
  updateMetadata(metadata: JsonValue): void;
  /** The session's call figures (does not touch it). */
  stats(): SessionStatsView;
  /** End the session: its Python state and its host tools are dropped. */
  close(): boolean;
}

/** Host tools and the tools of every pool. */
export interface ToolsApi {
  /** Register a host tool that Python tools call with `ctx.call(name, **kwargs)`. */
  register<S extends z.ZodType>(name: string, definition: HostToolDefinition<S>, options?: { sessionId?: string }): () => void;
  /** Python tools of a pool (default: every pool) and the host tools. */
  list(options?: { pool?: string; sessionId?: string }): Array<ToolSpec & { pool?: string }>;
}

/** One call of a batch. */
export type BatchCall = import("../call/batch.ts").BatchItem<CallOptions>;

/** One batch item's outcome, in the order of the calls. */
export type { Settled as BatchResult } from "../call/batch.ts";

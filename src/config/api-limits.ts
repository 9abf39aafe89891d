/** Limits the HTTP and gRPC APIs apply at the edge (server.limits), before anything reaches a pool or Python. */

import { z } from "zod";

export const ApiLimitsSchema = z.object({
  maxDepth: z.number().int().min(2).max(1_000).default(64).describe("Deepest nesting of arrays/objects in a request body"),
  maxValues: z.number().int().min(1).max(100_000_000).default(1_000_000).describe("Most JSON values (scalars, arrays, objects) in one request body"),
  maxKeys: z.number().int().min(1).max(10_000_000).default(100_000).describe("Most keys in one JSON object"),
  maxStreams: z.number().int().min(1).max(1_000_000).default(512).describe("Open streams (/v1/stream, /v1/events, streaming RPCs) across all clients"),
  maxStreamsPerClient: z.number().int().min(1).max(1_000_000).default(32).describe("Open streams from one client address"),
  maxEventSubscribers: z.number().int().min(0).max(100_000).default(64).describe("Open /v1/events subscriptions"),
  eventBufferSize: z.number().int().min(1).max(100_000).default(512).describe("Events kept for a slow /v1/events reader; older ones are dropped and counted"),
}).strict();
export type ApiLimits = z.output<typeof ApiLimitsSchema>;
export type ApiLimitsInput = z.input<typeof ApiLimitsSchema>;

/** The defaults, for callers of `createApp()` that pass none. */
export const DEFAULT_API_LIMITS: ApiLimits = ApiLimitsSchema.parse({});

/** Request and response schemas of the HTTP API (also the source of /openapi.json). */

import { z } from "zod";
import { AFFINITY_MODES } from "../session/affinity.ts";

const typedValueNote = "JSON; bytes, big ints, NaN/Infinity and arrays use `__snakepit__` typed objects (see README)";

export const ExecuteBody = z.object({
  tool: z.string().min(1).describe("Tool name"),
  args: z.record(z.string(), z.unknown()).default({}).describe(`Named arguments: ${typedValueNote}`),
  pool: z.string().min(1).optional().describe("Pool name; default: the first pool"),
  session_id: z.string().min(1).max(256).optional().describe("Session to run in (worker affinity, session state)"),
  timeout_ms: z.number().int().positive().max(2_147_483_647).optional().describe("Total budget, queue wait included"),
  affinity: z.enum(AFFINITY_MODES).optional().describe("Override the pool's session affinity"),
  idempotent: z.boolean().optional().describe("Safe to retry on another worker if this one crashes"),
}).strict();
export type ExecuteBody = z.output<typeof ExecuteBody>;

export const ExecuteResult = z.object({
  result: z.unknown().describe(typedValueNote),
});

export const ErrorBody = z.object({
  code: z.string().describe("Stable error code (see SnakepitErrorCode)"),
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
});

export const WorkerInfo = z.object({
  id: z.string(),
  pool: z.string(),
  pid: z.number().int(),
  state: z.string(),
  inFlight: z.number().int(),
  capacity: z.number().int(),
  requests: z.number().int(),
  uptimeMs: z.number(),
  device: z.string().optional().describe("Device given to the worker (`cuda:1`, `cpu`)"),
  threadLimits: z.record(z.string(), z.string()).optional().describe("OMP_NUM_THREADS and its siblings as the worker got them"),
});

export const ToolInfo = z.object({
  name: z.string(),
  description: z.string(),
  parameters: z.record(z.string(), z.unknown()).describe("JSON Schema of the arguments"),
  streaming: z.boolean(),
  origin: z.enum(["python", "host"]),
  pool: z.string().optional(),
});

export const PoolInfo = z.object({
  name: z.string(),
  adapter: z.string(),
  size: z.number().int(),
  stats: z.record(z.string(), z.unknown()),
});

export const CreateSessionBody = z.object({
  session_id: z.string().min(1).max(256).optional().describe("Id to use; default: a random UUID"),
  ttl_ms: z.number().int().positive().max(2_147_483_647).optional().describe("Idle time before expiry, at most the server's sessions.maxTtlMs; default: sessions.ttlMs"),
  metadata: z.record(z.string().max(128), z.string().max(1_024)).refine((m) => Object.keys(m).length <= 32, "at most 32 keys").optional(),
}).strict();

export const SessionInfo = z.object({
  id: z.string(),
  createdAt: z.string(),
  lastAccessedAt: z.string(),
  ttlMs: z.number(),
  metadata: z.record(z.string(), z.string()),
  workers: z.record(z.string(), z.string()).describe("Pool -> the worker holding the session's state"),
  stats: z.object({ calls: z.number(), errors: z.number() }),
});

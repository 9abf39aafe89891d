/** Request and response schemas of the HTTP API (also the source of /openapi.json). */

import { z } from "@hono/zod-openapi";
import { AFFINITY_MODES } from "../session/affinity.ts";

const TAG = "__snakepit__";
// OpenAPI 3.1 (JSON Schema 2020-12) marks base64 text with contentEncoding; the metadata type lacks it.
const base64Meta = (example: string) => ({ contentEncoding: "base64", example }) as { example: string };

export const TypedBytes = z.object({
  [TAG]: z.literal("bytes"),
  base64: z.string().describe("The bytes, standard base64 (RFC 4648 §4)").openapi(base64Meta("aGk=")),
}).openapi("TypedBytes", { description: "Bytes (Python `bytes`)" });

export const TypedInt = z.object({
  [TAG]: z.literal("int"),
  value: z.string().regex(/^-?\d+$/).describe("Decimal digits"),
}).openapi("TypedInt", { description: "An integer beyond ±2^53 (Python `int`)" });

export const TypedFloat = z.object({
  [TAG]: z.literal("float"),
  value: z.enum(["nan", "inf", "-inf"]),
}).openapi("TypedFloat", { description: "NaN or ±Infinity (Python `float`)" });

export const TypedNDArray = z.object({
  [TAG]: z.literal("ndarray"),
  dtype: z.string().describe("e.g. float32, int64, uint8"),
  shape: z.array(z.number().int().min(0)),
  base64: z.string().describe("The array's bytes, C order, little-endian, base64").openapi(base64Meta("AACAPwAAAEA=")),
}).openapi("TypedNDArray", { description: "A numpy array" });

export const TypedArrow = z.object({
  [TAG]: z.literal("arrow"),
  schema: z.record(z.string(), z.unknown()).optional().describe("Responses: { format, fields: [{ name, type, nullable }] }, read from the IPC itself (ignored in requests)"),
  base64: z.string().describe("Arrow IPC bytes (stream or file format), base64").openapi({ contentEncoding: "base64" } as object),
}).openapi("TypedArrow", { description: "An Arrow table as IPC (pyarrow.Table in Python)" });

/** Any value in a request or response: plain JSON, or one of the typed objects. */
export const Value = z.union([
  TypedBytes, TypedInt, TypedFloat, TypedNDArray, TypedArrow,
  z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.string(), z.unknown()),
]).openapi("Value", { description: "JSON; bytes, big ints, NaN/Infinity, numpy arrays and Arrow tables travel as `__snakepit__` typed objects, at any depth" });

export const ExecuteBody = z.object({
  tool: z.string().min(1).describe("Tool name"),
  args: z.record(z.string(), Value).default({}).describe("Named arguments").openapi({ example: { a: 1, b: 2 } }),
  pool: z.string().min(1).optional().describe("Pool name; default: the first pool"),
  session_id: z.string().min(1).max(256).optional().describe("Session to run in (worker affinity, session state)"),
  timeout_ms: z.number().int().positive().max(2_147_483_647).optional().describe("Total budget, queue wait included"),
  affinity: z.enum(AFFINITY_MODES).optional().describe("Override the pool's session affinity"),
  idempotent: z.boolean().optional().describe("Safe to retry on another worker if this one crashes"),
}).strict().openapi("ExecuteBody");
export type ExecuteBody = z.output<typeof ExecuteBody>;

export const ExecuteResult = z.object({ result: Value }).openapi("ExecuteResult");

export const ErrorBody = z.object({
  code: z.string().describe("Stable error code (see SnakepitErrorCode)"),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).describe("Facts: requestId, field, limit, python { type, kind, traceback }, ..."),
}).openapi("Error");

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
}).openapi("Worker");

export const ToolInfo = z.object({
  name: z.string(),
  description: z.string(),
  parameters: z.record(z.string(), z.unknown()).describe("JSON Schema of the arguments"),
  streaming: z.boolean(),
  origin: z.enum(["python", "host"]),
  pool: z.string().optional(),
}).openapi("Tool");

export const PoolInfo = z.object({
  name: z.string(),
  adapter: z.string(),
  size: z.number().int(),
  /** `drained`: it takes no new calls until resumed. */
  state: z.enum(["open", "drained"]),
  stats: z.record(z.string(), z.unknown()),
}).openapi("Pool");

const sessionId = z.string().min(1).max(256);
export const CreateSessionBody = z.object({
  id: sessionId.optional().describe("Id to use; default: a random UUID. The answer's `id` field"),
  session_id: sessionId.optional().describe("Alias of `id` (kept for older clients)"),
  ttl_ms: z.number().int().positive().max(2_147_483_647).optional().describe("Idle time before expiry, at most the server's sessions.maxTtlMs; default: sessions.ttlMs"),
  metadata: z.record(z.string().max(128), z.string().max(1_024)).refine((m) => Object.keys(m).length <= 32, "at most 32 keys").optional(),
}).strict().refine((b) => b.id === undefined || b.session_id === undefined || b.id === b.session_id, { message: "give either id or session_id (they differ)", path: ["session_id"] }).openapi("CreateSessionBody");

export const SessionInfo = z.object({
  id: z.string(),
  createdAt: z.string(),
  lastAccessedAt: z.string(),
  ttlMs: z.number(),
  metadata: z.record(z.string(), z.string()),
  workers: z.record(z.string(), z.string()).describe("Pool -> the worker holding the session's state"),
  stats: z.object({ calls: z.number(), errors: z.number() }),
}).openapi("Session");

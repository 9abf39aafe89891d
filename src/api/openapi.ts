/** The OpenAPI 3.1 document, generated from the zod schemas. */

import { z } from "zod";
import { HardwareInfoSchema } from "../hardware/schema.ts";
import { CreateSessionBody, ErrorBody, ExecuteBody, ExecuteResult, PoolInfo, SessionInfo, ToolInfo, WorkerInfo } from "./schemas.ts";

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });
const json = (s: z.ZodType) => ({ "application/json": { schema: schema(s) } });
const errors = {
  "4XX": { description: "Bad request, unknown tool, auth, size, saturation", content: json(ErrorBody) },
  "5XX": { description: "Worker or Python failure, timeout", content: json(ErrorBody) },
};

/** Build the document for a server at `version`. */
export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: { title: "snakepit", version, description: "Pools of supervised Python workers, callable over HTTP." },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    security: [{ bearer: [] }],
    paths: {
      "/healthz": { get: { summary: "Liveness", security: [], responses: { 200: { description: "Alive" } } } },
      "/readyz": {
        get: { summary: "Every pool has a ready worker", security: [], responses: { 200: { description: "Ready" }, 503: { description: "Not ready" } } },
      },
      "/v1/execute": {
        post: {
          summary: "Run a tool",
          requestBody: { required: true, content: json(ExecuteBody) },
          responses: { 200: { description: "The tool's result", content: json(ExecuteResult) }, ...errors },
        },
      },
      "/v1/stream": {
        post: {
          summary: "Run a streaming tool: SSE (Accept: text/event-stream) or NDJSON (default)",
          requestBody: { required: true, content: json(ExecuteBody) },
          responses: {
            200: {
              description: "NDJSON lines {chunk} then {end:true} or {error}; SSE events chunk, end, error",
              content: { "application/x-ndjson": {}, "text/event-stream": {} },
            },
            ...errors,
          },
        },
      },
      "/v1/sessions": {
        post: {
          summary: "Create a session",
          requestBody: { required: false, content: json(CreateSessionBody) },
          responses: { 201: { description: "The session", content: json(SessionInfo) }, ...errors },
        },
        get: { summary: "List sessions", responses: { 200: { description: "Sessions", content: json(z.object({ sessions: z.array(SessionInfo) })) } } },
      },
      "/v1/sessions/{id}": {
        get: {
          summary: "One session (touches it)",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { 200: { description: "The session", content: json(SessionInfo) }, ...errors },
        },
        delete: {
          summary: "End a session: its Python state and host tools are dropped",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { 204: { description: "Deleted" }, ...errors },
        },
      },
      "/v1/hardware": { get: { summary: "CPU, memory and GPUs of the host (cached 30 s; ?refresh=1 detects again)", responses: { 200: { description: "Hardware", content: json(HardwareInfoSchema) } } } },
      "/v1/workers": { get: { summary: "Workers of every pool", responses: { 200: { description: "Workers", content: json(z.object({ workers: z.array(WorkerInfo) })) } } } },
      "/v1/workers/{id}/recycle": {
        post: {
          summary: "Replace a worker without failing a call",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { 200: { description: "The new worker", content: json(z.object({ replacedBy: z.string() })) }, ...errors },
        },
      },
      "/v1/pools": { get: { summary: "Pools with their figures", responses: { 200: { description: "Pools", content: json(z.object({ pools: z.array(PoolInfo) })) } } } },
      "/v1/cluster": { get: { summary: "Cluster nodes with their pools and free capacity (404 when not clustered)", responses: { 200: { description: "Nodes", content: json(z.object({ node: z.string(), prefix: z.string(), nodes: z.array(z.record(z.string(), z.unknown())) })) }, ...errors } } },
      "/v1/tools": {
        get: {
          summary: "Tools of every pool (Python) and of the host",
          parameters: [{ name: "pool", in: "query", required: false, schema: { type: "string" } }],
          responses: { 200: { description: "Tools", content: json(z.object({ tools: z.array(ToolInfo) })) } },
        },
      },
    },
  };
}

/**
 * The typed wire: every message the host and a worker exchange, as the JSON shapes generated
 * from proto/ (`*Json` types of src/bridge/gen). Fields that carry tool values (args, results,
 * chunks) are widened to decoded values: the codec revives NDArrays, bytes and the like inside
 * them. `test/unit/wire-messages.test.ts` checks the method tables against the generated services.
 */

import type * as pb from "./gen/snakepit/bridge/v1/bridge_pb.ts";

/** The protocol version this host speaks; a worker announcing another one is refused at its handshake. */
export const PROTOCOL_VERSION = 2;

/** A generated JSON message with the fields in `K` holding any decoded value. */
type Carrying<T, K extends keyof T> = Omit<T, K> & { [P in K]?: unknown };
/** uint64 fields are strings in proto3 JSON; Python sends numbers. Both are read with `Number()`. */
type Uint64<T, K extends keyof T> = Omit<T, K> & { [P in K]?: string | number };

export type ExecuteToolRequest = Omit<pb.ExecuteToolRequestJson, "args"> & { toolName: string; args: Record<string, unknown> };
export type ExecuteToolResponse = Uint64<Carrying<pb.ExecuteToolResponseJson, "result">, "durationUs">;
export type ToolChunk = Carrying<pb.ToolChunkJson, "data">;
/** A MESSAGES packet's message: consecutive stream messages, `data[i]` being message `seq + i`. */
export type ToolChunks = Carrying<pb.ToolChunksJson, "data">;
export type HeartbeatResponse = Uint64<Uint64<pb.HeartbeatResponseJson, "seq">, "rssBytes">;
export type ReadyRequest = Omit<pb.ReadyRequestJson, "tools"> & { tools?: WireToolSpec[] };
export type HostToolRequest = Carrying<pb.HostToolRequestJson, "args">;
export type HostToolResponse = Carrying<pb.HostToolResponseJson, "result">;
export type TelemetryBatch = Uint64<pb.TelemetryBatchJson, "dropped">;
export type TelemetryEvent = Uint64<pb.TelemetryEventJson, "timestampUs">;
export type WireToolSpec = pb.ToolSpecJson;

/** A tool as the host knows it (a worker's reported ToolSpec, filled in). */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  streaming: boolean;
  origin: "python" | "host";
  /** The tool's own default deadline, ms (`@tool(timeout_ms=...)`); undefined: the pool's timeout. */
  timeoutMs?: number | undefined;
}

/** Fill in a ToolSpec as a worker reported it (proto3 JSON leaves out default values). */
export function toolSpecFromWire(spec: WireToolSpec & { timeout_ms?: number }): ToolSpec {
  const timeoutMs = Number(spec.timeoutMs ?? spec.timeout_ms ?? 0);
  return {
    name: spec.name ?? "",
    description: spec.description ?? "",
    parameters: (spec.parameters ?? {}) as Record<string, unknown>,
    streaming: spec.streaming === true,
    origin: spec.origin === "host" ? "host" : "python",
    ...(timeoutMs > 0 && Number.isFinite(timeoutMs) ? { timeoutMs } : {}),
  };
}

/** BridgeService (runs in every worker): method -> [request, reply or chunk]. */
export interface BridgeMethods {
  Ping: [pb.PingRequestJson, pb.PingResponseJson];
  Heartbeat: [Uint64<pb.HeartbeatRequestJson, "seq">, HeartbeatResponse];
  ExecuteTool: [ExecuteToolRequest, ExecuteToolResponse];
  ExecuteStreamingTool: [ExecuteToolRequest, ToolChunk];
  ListTools: [pb.ListToolsRequestJson, pb.ListToolsResponseJson];
  InitializeSession: [pb.SessionRequestJson, pb.SessionResponseJson];
  CleanupSession: [pb.SessionRequestJson, pb.SessionResponseJson];
  ConfigureTelemetry: [pb.TelemetryControlJson, pb.TelemetryControlAckJson];
  Shutdown: [pb.ShutdownRequestJson, pb.ShutdownResponseJson];
}

/** HostService (runs in the host; workers call it): method -> [request, reply or chunk]. */
export interface HostMethods {
  Ready: [ReadyRequest, pb.ReadyResponseJson];
  CallHostTool: [HostToolRequest, HostToolResponse];
  StreamHostTool: [HostToolRequest, ToolChunk];
  ListHostTools: [pb.ListHostToolsRequestJson, { tools: ToolSpec[] }];
  StreamTelemetry: [TelemetryBatch, pb.TelemetryAckJson];
  Log: [pb.LogRecordJson, pb.LogAckJson];
}

/** Control RPCs of a worker (everything but the tool calls). */
export type ControlMethod = Exclude<keyof BridgeMethods, "ExecuteTool" | "ExecuteStreamingTool">;

/** Method names, for the contract test (must equal the generated services' methods). */
export const BRIDGE_METHODS = [
  "Ping", "Heartbeat", "ExecuteTool", "ExecuteStreamingTool", "ListTools", "InitializeSession", "CleanupSession", "ConfigureTelemetry", "Shutdown",
] as const satisfies ReadonlyArray<keyof BridgeMethods>;
export const HOST_METHODS = ["Ready", "CallHostTool", "StreamHostTool", "ListHostTools", "StreamTelemetry", "Log"] as const satisfies ReadonlyArray<keyof HostMethods>;

/** What a handler of a worker-initiated request gets besides the message. */
export interface HostCallContext {
  signal: AbortSignal;
  timeoutMs: number | undefined;
}

type Reply<T> = T | Promise<T>;

/** The host's side of HostService, one typed handler per method (Ready is the worker's own). */
export interface HostHandlers {
  CallHostTool(msg: HostToolRequest, ctx: HostCallContext): Reply<HostToolResponse>;
  StreamHostTool(msg: HostToolRequest, ctx: HostCallContext): AsyncIterable<unknown>;
  ListHostTools(msg: HostMethods["ListHostTools"][0], ctx: HostCallContext): Reply<HostMethods["ListHostTools"][1]>;
  StreamTelemetry(msg: TelemetryBatch, ctx: HostCallContext): Reply<pb.TelemetryAckJson>;
  Log(msg: pb.LogRecordJson, ctx: HostCallContext): Reply<pb.LogAckJson>;
}

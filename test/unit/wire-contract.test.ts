// The lean codec writes packets by hand; these tests prove the messages inside them are valid
// Connect JSON for the generated schemas, so any Connect/protobuf-es peer can read them.
import { fromJson, toJson, create } from "@bufbuild/protobuf";
import { describe, expect, test } from "bun:test";
import {
  ExecuteToolRequestSchema,
  ExecuteToolResponseSchema,
  ReadyRequestSchema,
  ToolChunkSchema,
  BridgeService,
  HostService,
} from "../../src/bridge/gen/snakepit/bridge/v1/bridge_pb.ts";
import { encodeValue } from "../../src/bridge/codec.ts";

describe("wire contract", () => {
  test("an ExecuteTool message as the host writes it parses as ExecuteToolRequest", () => {
    const msg = { toolName: "add", args: encodeValue({ a: 1, b: [2, null, new Uint8Array([1])] }).value, sessionId: "s1", metadata: { k: "v" } };
    const parsed = fromJson(ExecuteToolRequestSchema, JSON.parse(JSON.stringify(msg)));
    expect(parsed.toolName).toBe("add");
    expect(parsed.args).toEqual({ a: 1, b: [2, null, { __snakepit__: "bytes", ref: 0 }] });
    expect(toJson(ExecuteToolRequestSchema, parsed)).toEqual(JSON.parse(JSON.stringify(msg)));
  });

  test("Python's replies parse as their response messages", () => {
    const reply = { result: { x: [1, "a", null] }, durationUs: "12" };
    expect(toJson(ExecuteToolResponseSchema, fromJson(ExecuteToolResponseSchema, reply))).toEqual(reply);
    const chunk = { data: { __snakepit__: "bytes", ref: 0 }, seq: 1 };
    expect(toJson(ToolChunkSchema, fromJson(ToolChunkSchema, chunk))).toEqual(chunk);
    const ready = fromJson(ReadyRequestSchema, {
      workerId: "w1", pid: 1, protocolVersion: 1, pythonVersion: "3.11.2", capacity: 1, features: [],
      tools: [{ name: "add", description: "", parameters: { type: "object" }, streaming: false, origin: "python" }],
    });
    expect(ready.tools[0]!.name).toBe("add");
    expect(create(ExecuteToolRequestSchema).toolName).toBe("");
  });

  test("every method name the bridge uses exists in the services", () => {
    const bridge = BridgeService.methods.map((m) => m.name);
    const host = HostService.methods.map((m) => m.name);
    for (const m of ["Ping", "Heartbeat", "ExecuteTool", "ExecuteStreamingTool", "ListTools", "InitializeSession", "CleanupSession", "ConfigureTelemetry", "Shutdown"]) {
      expect(bridge).toContain(m);
    }
    for (const m of ["Ready", "CallHostTool", "StreamHostTool", "ListHostTools", "StreamTelemetry", "Log"]) expect(host).toContain(m);
  });
});

// The typed wire layer (src/bridge/messages.ts) against the types generated from proto/.
import { describe, expect, test } from "bun:test";
import { BridgeService, ExecuteToolRequestSchema, HostService, ToolSpecSchema } from "../../src/bridge/gen/snakepit/bridge/v1/bridge_pb.ts";
import { BRIDGE_METHODS, HOST_METHODS, PROTOCOL_VERSION, toolSpecFromWire } from "../../src/bridge/messages.ts";
import { realClock } from "../../src/core/clock.ts";
import { CallTracker } from "../../src/worker/calls.ts";
import { checkProtocol } from "../../src/worker/handshake.ts";
import { EventBus } from "../../src/telemetry/bus.ts";
import { createHostHandlers } from "../../src/tools/host-handlers.ts";
import { ToolRegistry } from "../../src/tools/registry.ts";

describe("bridge/messages", () => {
  test("the method tables are exactly the generated services' methods", () => {
    expect([...BRIDGE_METHODS].sort() as string[]).toEqual(BridgeService.methods.map((m) => m.name).sort());
    expect([...HOST_METHODS].sort() as string[]).toEqual(HostService.methods.map((m) => m.name).sort());
    // The host serves every HostService method but Ready (the worker's handshake).
    const handlers = createHostHandlers({ bus: new EventBus(), registry: new ToolRegistry(), pool: "p", worker: "w" });
    expect(Object.keys(handlers).sort()).toEqual(HOST_METHODS.filter((m) => m !== "Ready").sort());
  });

  test("an ExecuteTool request as the host writes it uses only fields of the proto message", () => {
    let sent: Record<string, unknown> = {};
    const tracker = new CallTracker({ id: "w", isReady: true, cancelGraceMs: 10, released: () => {}, cancelTimedOut: () => {} }, 1, realClock);
    tracker.start({
      request: (_m, msg, sink) => {
        sent = msg as unknown as Record<string, unknown>;
        queueMicrotask(() => sink.end({ result: 1 }, undefined));
        return 1;
      },
      cancel: () => {},
      credit: () => {},
    }, "ExecuteTool", "t", { a: 1 }, { sessionId: "s", metadata: { k: "v" }, traceparent: "tp", correlationId: "c" });
    const fields = new Set(ExecuteToolRequestSchema.fields.map((f) => f.jsonName));
    expect(Object.keys(sent).sort()).toEqual(["args", "correlationId", "metadata", "sessionId", "toolName", "traceparent"]);
    for (const key of Object.keys(sent)) expect(fields.has(key)).toBe(true);
  });

  test("toolSpecFromWire() fills defaults and reads the tool's own deadline", () => {
    expect(ToolSpecSchema.fields.map((f) => f.jsonName)).toContain("timeoutMs");
    expect(toolSpecFromWire({ name: "a" })).toEqual({ name: "a", description: "", parameters: {}, streaming: false, origin: "python" });
    expect(toolSpecFromWire({ name: "b", timeoutMs: 250, streaming: true }).timeoutMs).toBe(250);
    expect(toolSpecFromWire({ name: "c", timeout_ms: 90 }).timeoutMs).toBe(90);
    expect(toolSpecFromWire({ name: "d", timeoutMs: 0 }).timeoutMs).toBeUndefined();
  });

  test("the handshake refuses another protocol version, naming both", () => {
    expect(checkProtocol("w1", PROTOCOL_VERSION)).toBeUndefined();
    const err = checkProtocol("w1", 99)!;
    expect(err.code).toBe("worker_spawn_failed");
    expect(err.message).toContain("protocol version 99");
    expect(err.message).toContain(`version ${PROTOCOL_VERSION}`);
    expect(err.details).toMatchObject({ workerProtocolVersion: 99, hostProtocolVersion: PROTOCOL_VERSION });
    expect(checkProtocol("w1", undefined)!.message).toContain("(none)");
  });
});

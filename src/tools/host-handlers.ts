/** What the host answers when a worker calls it: host tools, tool listing, telemetry, logs. */

import { SnakepitError } from "../errors.ts";
import type { EventBus, SnakepitEvents } from "../telemetry/bus.ts";
import { inHostToolSpan } from "../telemetry/tracing.ts";
import type { ToolRegistry } from "./registry.ts";
import type { InboundHandlers } from "../bridge/channel.ts";

/** Build the handlers for one worker of one pool. */
export function createHostHandlers(deps: { bus: EventBus; registry: ToolRegistry; pool: string; worker: string }): InboundHandlers {
  const { bus, registry, pool, worker } = deps;
  const toolContext = (msg: Record<string, unknown>, signal: AbortSignal) => ({
    sessionId: (msg.sessionId as string | undefined) || undefined,
    signal,
    pool,
    worker,
  });
  return {
    unary: (method, msg, ctx) => {
      switch (method) {
        case "CallHostTool": {
          const name = String(msg.toolName ?? "");
          const call = () => registry.call(name, msg.args ?? {}, toolContext(msg, ctx.signal));
          const run = msg.traceparent ? inHostToolSpan(name, String(msg.traceparent), call) : call();
          return run.then((result) => ({ result }));
        }
        case "ListHostTools":
          return { tools: registry.list((msg.sessionId as string | undefined) || undefined) };
        case "StreamTelemetry": {
          const events = (msg.events as Array<SnakepitEvents["python.event"]> | undefined) ?? [];
          for (const e of events) {
            bus.emit("python.event", {
              pool, worker, name: e.name, measurements: e.measurements ?? {}, metadata: e.metadata ?? {},
              timestampUs: Number(e.timestampUs ?? 0), correlationId: e.correlationId || undefined,
            });
          }
          const dropped = Number(msg.dropped ?? 0);
          if (dropped > 0) bus.emit("python.dropped", { pool, worker, dropped });
          return {};
        }
        case "Log":
          bus.emit("worker.log", { pool, worker, line: `${String(msg.level)} ${String(msg.logger)}: ${String(msg.message)}` });
          return {};
        default:
          throw new SnakepitError("tool_not_found", `The host has no method "${method}"`);
      }
    },
    stream: (method, msg, ctx) => {
      if (method !== "StreamHostTool") throw new SnakepitError("tool_not_found", `The host has no streaming method "${method}"`);
      return registry.stream(String(msg.toolName ?? ""), msg.args ?? {}, toolContext(msg, ctx.signal));
    },
  };
}

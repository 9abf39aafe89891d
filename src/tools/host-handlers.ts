/** What the host answers when a worker calls it: host tools, tool listing, telemetry, logs. */

import type { HostHandlers } from "../bridge/messages.ts";
import type { EventBus } from "../telemetry/bus.ts";
import { inHostToolSpan } from "../telemetry/tracing.ts";
import type { ToolRegistry } from "./registry.ts";

/** Build the handlers for one worker of one pool. */
export function createHostHandlers(deps: { bus: EventBus; registry: ToolRegistry; pool: string; worker: string }): HostHandlers {
  const { bus, registry, pool, worker } = deps;
  const toolContext = (sessionId: string | undefined, signal: AbortSignal) => ({ sessionId: sessionId || undefined, signal, pool, worker });
  return {
    CallHostTool: (msg, ctx) => {
      const name = msg.toolName ?? "";
      const call = () => registry.call(name, msg.args ?? {}, toolContext(msg.sessionId, ctx.signal));
      const run = msg.traceparent ? inHostToolSpan(name, msg.traceparent, call) : call();
      return run.then((result) => ({ result }));
    },
    StreamHostTool: (msg, ctx) => registry.stream(msg.toolName ?? "", msg.args ?? {}, toolContext(msg.sessionId, ctx.signal)),
    ListHostTools: (msg) => ({ tools: registry.list(msg.sessionId || undefined) }),
    StreamTelemetry: (msg) => {
      for (const e of msg.events ?? []) {
        bus.emit("python.event", {
          pool, worker, name: e.name ?? "", measurements: (e.measurements ?? {}) as Record<string, number>, metadata: e.metadata ?? {},
          timestampUs: Number(e.timestampUs ?? 0), correlationId: e.correlationId || undefined,
        });
      }
      const dropped = Number(msg.dropped ?? 0);
      if (dropped > 0) bus.emit("python.dropped", { pool, worker, dropped });
      return {};
    },
    Log: (msg) => {
      bus.emit("worker.log", { pool, worker, line: `${String(msg.level)} ${String(msg.logger)}: ${String(msg.message)}` });
      return {};
    },
  };
}

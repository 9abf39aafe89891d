/**
 * The one place where requests a worker sends are read as typed messages: the channel hands over
 * method names and decoded JSON; this routes each to its typed handler, and refuses the rest.
 */

import { SnakepitError } from "../errors.ts";
import type { InboundHandlers } from "./channel.ts";
import { type HostHandlers, PROTOCOL_VERSION, type ReadyRequest } from "./messages.ts";
import type { ReadyResponseJson } from "./gen/snakepit/bridge/v1/bridge_pb.ts";

type Unary = Exclude<keyof HostHandlers, "StreamHostTool">;
const UNARY = new Set<string>(["CallHostTool", "ListHostTools", "StreamTelemetry", "Log"] satisfies Unary[]);

/** Channel handlers serving `handlers`, with `ready` answering the worker's handshake. */
export function serveHost(handlers: HostHandlers, ready: (msg: ReadyRequest) => void): InboundHandlers {
  return {
    unary: (method, msg, ctx) => {
      if (method === "Ready") {
        ready(msg as ReadyRequest);
        // The worker checks our version too, and exits naming both when they differ.
        return { protocolVersion: PROTOCOL_VERSION } satisfies ReadyResponseJson;
      }
      if (!UNARY.has(method)) throw new SnakepitError("tool_not_found", `The host has no method "${method}"`);
      // The message is the proto3 JSON of this method's request (checked against proto/ by test/unit/wire-messages.test.ts).
      return (handlers[method as Unary] as (m: unknown, c: typeof ctx) => unknown)(msg, ctx);
    },
    stream: (method, msg, ctx) => {
      if (method !== "StreamHostTool") throw new SnakepitError("tool_not_found", `The host has no streaming method "${method}"`);
      return handlers.StreamHostTool(msg, ctx);
    },
  };
}

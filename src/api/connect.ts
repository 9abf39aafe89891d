/** The control API as a Connect service (ControlService), served next to the JSON routes. */

import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { ControlService, StreamChunkSchema } from "../bridge/gen/snakepit/api/v1/control_pb.ts";
import { CONNECT_CODE } from "../bridge/wire-errors.ts";
import { SnakepitError } from "../errors.ts";
import type { Snakepit } from "../snakepit.ts";
import { fromHttpJson, toHttpJson } from "./http-json.ts";
import { listPools, listTools } from "./views.ts";

function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = SnakepitError.from(err);
  return new ConnectError(e.message, CONNECT_CODE[e.code] ?? Code.Internal, { "x-snakepit-code": e.code }, undefined, e);
}

function guard<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw toConnectError(err);
    }
  };
}

const asValue = (v: unknown) => fromJson(ValueSchema, toHttpJson(v) as JsonValue);

/** Build the Connect service over a running Snakepit. */
function controlService(pit: Snakepit): ServiceImpl<typeof ControlService> {
  const callOptions = (req: { pool: string; sessionId: string; timeoutMs: number; affinity: string; idempotent: boolean }, signal: AbortSignal) => ({
    signal,
    ...(req.pool ? { pool: req.pool } : {}),
    ...(req.sessionId ? { sessionId: req.sessionId } : {}),
    ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
    ...(req.affinity ? { affinity: req.affinity as "hint" } : {}),
    ...(req.idempotent ? { idempotent: true } : {}),
  });
  return {
    execute: guard(async (req, ctx) => {
      const args = (fromHttpJson(req.args ?? {}) ?? {}) as Record<string, unknown>;
      const result = await pit.execute(req.tool, args, callOptions(req, ctx.signal));
      return { result: asValue(result) };
    }),
    async *stream(req, ctx) {
      try {
        const args = (fromHttpJson(req.args ?? {}) ?? {}) as Record<string, unknown>;
        for await (const chunk of pit.stream(req.tool, args, callOptions(req, ctx.signal))) {
          yield create(StreamChunkSchema, { data: asValue(chunk) });
        }
      } catch (err) {
        throw toConnectError(err);
      }
    },
    listWorkers: guard(async (req) => ({
      workers: pit.listWorkers().filter((w) => !req.pool || w.pool === req.pool).map((w) => ({ ...w, requests: BigInt(w.requests), uptimeMs: BigInt(Math.round(w.uptimeMs)) })),
    })),
    recycleWorker: guard(async (req) => ({ replacedBy: await pit.recycleWorker(req.workerId) })),
    listPools: guard(async () => ({ pools: listPools(pit) as never })),
    listTools: guard(async (req) => ({ tools: listTools(pit, req.pool || undefined) as never })),
  };
}

/** Fetch handlers keyed by request path, e.g. "/snakepit.api.v1.ControlService/Execute". */
export function connectHandlers(pit: Snakepit): Map<string, (req: Request) => Promise<Response>> {
  const router = createConnectRouter();
  router.service(ControlService, controlService(pit));
  return new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
}

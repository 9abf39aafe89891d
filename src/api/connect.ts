/**
 * The control API as a Connect service (ControlService), served next to the JSON routes over
 * Connect, gRPC-web (HTTP/1.1) and, through grpc-server.ts, gRPC (HTTP/2). One implementation:
 * deadlines from Connect-Timeout-Ms / grpc-timeout become the call's budget (deadline_exceeded,
 * never canceled), errors carry ErrorInfo (code, Python type and traceback), arguments pass the
 * same edge limits as the JSON routes, and gzip request bodies are accepted.
 */

import { gunzipSync, gzipSync } from "node:zlib";
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createConnectRouter, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type Compression, type UniversalHandler } from "@connectrpc/connect/protocol";
import { ControlService, StreamChunkSchema } from "../bridge/gen/snakepit/api/v1/control_pb.ts";
import type { Snakepit } from "../snakepit.ts";
import { budgetOf, explainDeadline } from "./deadline-note.ts";
import { toConnectError } from "./error-info.ts";
import { fromHttpJson, toHttpJson } from "./http-json.ts";
import { checkJsonShape } from "./json-guard.ts";
import type { ApiLimits } from "./limits.ts";
import type { StreamSlots } from "./stream-slots.ts";
import { listPools, listTools } from "./views.ts";

/** gzip for Connect and gRPC bodies, bounded by readMaxBytes once decompressed. */
export const gzipCompression: Compression = {
  name: "gzip",
  compress: async (bytes) => new Uint8Array(gzipSync(bytes)),
  decompress: async (bytes, readMaxBytes) => {
    if (bytes.length === 0) return new Uint8Array(0);
    try {
      return new Uint8Array(gunzipSync(bytes, { maxOutputLength: readMaxBytes }));
    } catch (err) {
      const tooBig = (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError;
      throw new ConnectError(tooBig ? `message is larger than ${readMaxBytes} bytes once decompressed` : `bad gzip: ${(err as Error).message}`, tooBig ? Code.ResourceExhausted : Code.InvalidArgument);
    }
  },
};

/** What the service needs besides the pit. */
export interface ServiceDeps {
  limits: ApiLimits;
  slots?: StreamSlots;
  /** Who is calling, for the per-client stream cap. */
  client?: (ctx: HandlerContext) => string;
}

const asValue = (v: unknown) => fromJson(ValueSchema, toHttpJson(v) as JsonValue);

type Req = { tool: string; args?: unknown; pool: string; sessionId: string; timeoutMs: number; affinity: string; idempotent: boolean };

/** The deadline error when the transport's deadline (not the pool's) ended the call. */
function transportDeadline(ctx: HandlerContext, err: unknown): unknown {
  const reason: unknown = ctx.signal.reason;
  if (ctx.signal.aborted && reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) return reason;
  return err;
}

/** Build the ControlService implementation over a running Snakepit. */
export function controlService(pit: Snakepit, deps: ServiceDeps): ServiceImpl<typeof ControlService> {
  const prepare = (req: Req, ctx: HandlerContext, streaming: boolean) => {
    const raw = req.args ?? {};
    checkJsonShape(raw, deps.limits, "args");
    const args = (fromHttpJson(raw) ?? {}) as Record<string, unknown>;
    const transportMs = ctx.timeoutMs();
    const timeoutMs = [req.timeoutMs || undefined, transportMs].filter((n): n is number => n !== undefined && n > 0).reduce<number | undefined>((a, b) => (a === undefined ? b : Math.min(a, b)), undefined);
    const options = {
      signal: ctx.signal,
      ...(req.pool ? { pool: req.pool } : {}),
      ...(req.sessionId ? { sessionId: req.sessionId } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(req.affinity ? { affinity: req.affinity as "hint" } : {}),
      ...(req.idempotent ? { idempotent: true } : {}),
    };
    return { args, options, budget: budgetOf(pit, req.pool || undefined, timeoutMs, streaming) };
  };
  const fail = (ctx: HandlerContext, err: unknown, budget?: number) => toConnectError(transportDeadline(ctx, explainDeadline(err, budget)), ctx.requestHeader.get("x-request-id") ?? "");
  const guard = <I, O>(fn: (req: I, ctx: HandlerContext) => Promise<O>) => async (req: I, ctx: HandlerContext): Promise<O> => {
    try {
      return await fn(req, ctx);
    } catch (err) {
      throw fail(ctx, err);
    }
  };
  return {
    async execute(req, ctx) {
      let budget: number | undefined;
      try {
        const { args, options, budget: b } = prepare(req, ctx, false);
        budget = b;
        return { result: asValue(await pit.execute(req.tool, args, options)) };
      } catch (err) {
        throw fail(ctx, err, budget);
      }
    },
    async *stream(req, ctx) {
      let budget: number | undefined;
      let release: (() => void) | undefined;
      try {
        const { args, options, budget: b } = prepare(req, ctx, true);
        budget = b;
        release = deps.slots?.acquire(deps.client?.(ctx) ?? "local", "stream");
        for await (const chunk of pit.stream(req.tool, args, options)) {
          yield create(StreamChunkSchema, { data: asValue(chunk) });
        }
      } catch (err) {
        throw fail(ctx, err, budget);
      } finally {
        release?.();
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

/** Universal handlers keyed by request path, e.g. "/snakepit.api.v1.ControlService/Execute". */
export function connectHandlers(pit: Snakepit, deps: ServiceDeps & { maxBodyBytes: number }): Map<string, UniversalHandler> {
  const router = createConnectRouter({ acceptCompression: [gzipCompression], readMaxBytes: deps.maxBodyBytes });
  router.service(ControlService, controlService(pit, deps));
  return new Map(router.handlers.map((h) => [h.requestPath, h]));
}

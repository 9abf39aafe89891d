/**
 * ControlService over real gRPC (HTTP/2, @grpc/grpc-js): the same implementation as the Connect
 * routes (connect.ts), with messages coded by the generated protobuf-es schemas. Unary and
 * server streaming, deadlines (grpc-timeout -> the call's budget), cancellation (a client that
 * cancels aborts the Python call), token auth from `authorization: Bearer` metadata, and errors
 * as gRPC status + `grpc-status-details-bin` (google.rpc.Status with snakepit.api.v1.ErrorInfo:
 * code, Python type, traceback).
 */

import * as grpc from "@grpc/grpc-js";
import { create, type DescMessage, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { ControlService } from "../bridge/gen/snakepit/api/v1/control_pb.ts";
import { SnakepitError } from "../errors.ts";
import type { Snakepit } from "../snakepit.ts";
import { controlService } from "./connect.ts";
import { toConnectError } from "./error-info.ts";
import { checkBearer } from "./guard.ts";
import type { ApiLimits } from "./limits.ts";
import type { StreamSlots } from "./stream-slots.ts";

export interface GrpcServerOptions {
  pit: Snakepit;
  host: string;
  /** 0 picks a free port. */
  port: number;
  token?: string | undefined;
  limits: ApiLimits;
  maxMessageBytes: number;
  slots?: StreamSlots;
}

export interface GrpcServer {
  readonly port: number;
  /** Stop accepting; with `force`, cancel calls in flight. */
  stop(force?: boolean): Promise<void>;
}

/** google.rpc.Status { code, message, details: [Any(ErrorInfo)] }, encoded by hand (no google.rpc schema here). */
function statusDetails(err: ConnectError): Buffer {
  const w = new BinaryWriter();
  w.tag(1, 0).int32(err.code);
  w.tag(2, 2).string(err.rawMessage);
  for (const d of err.details) {
    if (!("desc" in d)) continue;
    const any = new BinaryWriter();
    any.tag(1, 2).string(`type.googleapis.com/${d.desc.typeName}`);
    any.tag(2, 2).bytes(toBinary(d.desc, create(d.desc, d.value)));
    w.tag(3, 2).bytes(any.finish());
  }
  return Buffer.from(w.finish());
}

function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const ce = err instanceof ConnectError ? err : toConnectError(err);
  const metadata = new grpc.Metadata();
  metadata.set("grpc-status-details-bin", statusDetails(ce));
  const code = ce.metadata.get("x-snakepit-code");
  if (code) metadata.set("x-snakepit-code", code);
  return { code: ce.code as number, details: ce.rawMessage, metadata };
}

/** The peer's address from grpc-js's "ipv4:127.0.0.1:5000" / "ipv6:[::1]:5000". */
function peerAddress(peer: string): string {
  const rest = peer.replace(/^ipv[46]:/, "");
  return rest.startsWith("[") ? rest.slice(1, rest.indexOf("]")) : rest.replace(/:\d+$/, "");
}

const UNDECODABLE = Symbol("undecodable");

/** Throw invalid_argument when the request could not be decoded. */
function decoded(request: Message, limits: ApiLimits): Message {
  const err = (request as unknown as Record<symbol, unknown>)[UNDECODABLE];
  if (err === undefined) return request;
  throw new SnakepitError("invalid_argument", `Cannot decode the request message: ${(err as Error).message} (server.limits.maxDepth is ${limits.maxDepth})`, {
    details: { field: "body", limit: "maxDepth", maxDepth: limits.maxDepth },
  });
}

interface Call {
  metadata: grpc.Metadata;
  getDeadline(): grpc.Deadline;
  getPeer(): string;
  on(event: "cancelled", fn: () => void): unknown;
}

/** A Connect HandlerContext for one gRPC call: its signal fires on cancel or at the deadline. */
function contextOf(call: Call, method: (typeof ControlService.methods)[number]): { ctx: HandlerContext; done: () => void } {
  const ac = new AbortController();
  call.on("cancelled", () => ac.abort(new ConnectError("the client cancelled the call", Code.Canceled)));
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const timeoutMs = Number.isFinite(at) ? Math.max(1, at - Date.now()) : undefined;
  const timer = timeoutMs !== undefined ? setTimeout(() => ac.abort(new ConnectError(`deadline of ${timeoutMs} ms (grpc-timeout) passed`, Code.DeadlineExceeded)), timeoutMs) : undefined;
  const headers = new Headers();
  for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === "string") headers.set(k, v);
  headers.set("x-snakepit-client", peerAddress(call.getPeer()));
  const ctx = {
    method, service: ControlService, requestMethod: "POST", protocolName: "grpc", url: "",
    signal: ac.signal, timeoutMs: () => timeoutMs, requestHeader: headers,
    responseHeader: new Headers(), responseTrailer: new Headers(), values: { get: () => undefined },
  } as unknown as HandlerContext;
  return { ctx, done: () => clearTimeout(timer) };
}

/** Serve ControlService over gRPC on host:port; resolves once bound (with the real port). */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const impl = controlService(options.pit, {
    limits: options.limits,
    ...(options.slots ? { slots: options.slots } : {}),
    client: (ctx) => ctx.requestHeader.get("x-snakepit-client") ?? "local",
  }) as unknown as Record<string, (req: unknown, ctx: HandlerContext) => unknown>;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.maxMessageBytes,
    "grpc.max_send_message_length": -1,
  });
  const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  const auth = (metadata: grpc.Metadata) => {
    if (!options.token) return;
    const value = metadata.get("authorization")[0];
    checkBearer(typeof value === "string" ? value : undefined, options.token);
  };
  for (const method of ControlService.methods) {
    const input = method.input as DescMessage;
    const output = method.output as DescMessage;
    const name = method.localName;
    definition[method.name] = {
      path: `/${ControlService.typeName}/${method.name}`,
      requestStream: false,
      responseStream: method.methodKind === "server_streaming",
      requestSerialize: (m: Message) => Buffer.from(toBinary(input, m)),
      // A message that cannot be decoded (e.g. nested past protobuf's recursion limit) becomes
      // an invalid_argument answer in the handler, not grpc-js's generic INTERNAL.
      requestDeserialize: (b: Buffer) => {
        try {
          return fromBinary(input, b);
        } catch (err) {
          return { [UNDECODABLE]: err } as unknown as Message;
        }
      },
      responseSerialize: (m: Message) => Buffer.from(toBinary(output, m)),
      responseDeserialize: (b: Buffer) => fromBinary(output, b),
    };
    if (method.methodKind === "server_streaming") {
      handlers[method.name] = (async (call: grpc.ServerWritableStream<Message, Message>) => {
        const { ctx, done } = contextOf(call, method);
        try {
          auth(call.metadata);
          for await (const msg of impl[name]!(decoded(call.request, options.limits), ctx) as AsyncIterable<Message>) {
            if (call.cancelled) break;
            if (!call.write(create(output, msg))) await new Promise((r) => call.once("drain", r));
          }
          call.end();
        } catch (err) {
          if (!call.cancelled) call.destroy(Object.assign(new Error(), toServiceError(err)));
        } finally {
          done();
        }
      }) as grpc.handleServerStreamingCall<Message, Message>;
    } else {
      handlers[method.name] = (async (call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) => {
        const { ctx, done } = contextOf(call, method);
        try {
          auth(call.metadata);
          const reply = await (impl[name]!(decoded(call.request, options.limits), ctx) as Promise<Message>);
          callback(null, create(output, reply));
        } catch (err) {
          callback(toServiceError(err));
        } finally {
          done();
        }
      }) as grpc.handleUnaryCall<Message, Message>;
    }
  }
  server.addService(definition, handlers);
  const address = options.host.includes(":") ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  }).catch((err: Error) => {
    const busy = /EADDRINUSE|in use/i.test(err.message);
    throw new SnakepitError(busy ? "config_invalid" : "internal", busy
      ? `gRPC port ${options.port} on ${options.host} is in use: choose another with --grpc-port, or 0 for any free port`
      : `Cannot serve gRPC on ${address}: ${err.message}`, { cause: err, details: { field: "grpcPort" } });
  });
  return {
    port,
    stop: (force = false) => new Promise<void>((resolve) => {
      if (force) {
        server.forceShutdown();
        resolve();
      } else {
        server.tryShutdown(() => resolve());
      }
    }),
  };
}

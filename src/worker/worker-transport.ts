/**
 * A Connect `Transport` over one worker's pipe: `createClient(BridgeService, transport)` talks to
 * that worker with typed messages (Connect JSON codec, Connect errors, deadlines, aborts).
 * It goes around the pool (no queue, no slot accounting): for tools, diagnostics and tests;
 * pooled calls go through `pit.execute()`.
 */

import { create, type DescMessage, type DescMethodStreaming, type DescMethodUnary, fromJson, type JsonValue, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { SnakepitError } from "../errors.ts";
import type { WorkerLink } from "./link.ts";
import { LocalProcessWorker } from "./local-process-worker.ts";
import { Inbox } from "../bridge/inbox.ts";
import { CONNECT_CODE } from "../bridge/wire-errors.ts";

function toConnect(err: unknown): ConnectError {
  const e = SnakepitError.from(err);
  return new ConnectError(e.message, CONNECT_CODE[e.code] ?? Code.Internal, undefined, undefined, e);
}

const readOptions = { ignoreUnknownFields: true };

/** A Transport whose calls go to `worker`. */
export function createWorkerTransport(worker: WorkerLink): Transport {
  const channelOf = () => {
    if (!(worker instanceof LocalProcessWorker)) throw new ConnectError(`worker "${worker.id}" is not a local process: no pipe to talk over`, Code.Unimplemented);
    const channel = worker.channel;
    if (!channel || worker.state !== "ready") throw new ConnectError(`worker "${worker.id}" is ${worker.state}`, Code.Unavailable);
    return channel;
  };
  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>, signal: AbortSignal | undefined, timeoutMs: number | undefined, _header: HeadersInit | undefined, input: MessageInitShape<I>,
    ): Promise<UnaryResponse<I, O>> {
      const channel = channelOf();
      const json = toJson(method.input, create(method.input, input));
      const reply = await new Promise<unknown>((resolve, reject) => {
        const id = channel.request(method.name, json, { end: (msg, err) => (err ? reject(toConnect(err)) : resolve(msg ?? {})) }, { timeoutMs });
        signal?.addEventListener("abort", () => {
          channel.cancel(id);
          reject(new ConnectError("the call was aborted", Code.Canceled));
        }, { once: true });
      });
      return {
        stream: false, service: method.parent, method, header: new Headers(), trailer: new Headers(),
        message: fromJson(method.output, reply as JsonValue, readOptions),
      };
    },
    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>, signal: AbortSignal | undefined, timeoutMs: number | undefined, _header: HeadersInit | undefined, input: AsyncIterable<MessageInitShape<I>>,
    ): Promise<StreamResponse<I, O>> {
      if (method.methodKind !== "server_streaming") throw new ConnectError(`${method.name}: only server streaming runs over a worker pipe`, Code.Unimplemented);
      const channel = channelOf();
      let first: MessageInitShape<I> | undefined;
      for await (const m of input) {
        first = m;
        break;
      }
      const json = toJson(method.input, create(method.input, first));
      const inbox = new Inbox<unknown>();
      const id = channel.request(method.name, json, {
        message: (msg) => inbox.push(msg),
        end: (_msg, err) => inbox.end(err ? toConnect(err) : undefined),
      }, { streaming: true, timeoutMs });
      signal?.addEventListener("abort", () => channel.cancel(id), { once: true });
      async function* messages() {
        for await (const msg of inbox.read((n) => channel.credit(id, n), () => channel.cancel(id))) {
          yield fromJson(method.output, msg as JsonValue, readOptions);
        }
      }
      return { stream: true, service: method.parent, method, header: new Headers(), trailer: new Headers(), message: messages() };
    },
  };
}

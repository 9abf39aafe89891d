/**
 * A tool call and a tool stream over a worker's conduit, through its call tracker: the same for
 * every worker kind that speaks the bridge's messages (a local process, the in-memory worker).
 */

import { Inbox } from "../bridge/inbox.ts";
import type { ToolChunk } from "../bridge/messages.ts";
import { SnakepitError } from "../errors.ts";
import type { CallTracker, Conduit } from "./calls.ts";
import type { CallOptions, CallResult, WorkerStream } from "./link.ts";

/** Run `tool` once; its result and the time Python reported. */
export function callTool(calls: CallTracker, conduit: Conduit | undefined, tool: string, args: Record<string, unknown>, options: CallOptions): Promise<CallResult> {
  let call;
  try {
    call = calls.start(conduit, "ExecuteTool", tool, args, options);
  } catch (err) {
    return Promise.reject(err);
  }
  return call.done as Promise<CallResult>; // a unary TrackedCall resolves with the CallResult itself
}

/**
 * Stream `tool`'s chunks; the call starts (and takes its slot) now, not at the first `next()`.
 * Reads grant credit; closing the iterator cancels the call. `measured`: when the end reports no
 * Python time, use the time from send to end.
 */
export function streamTool(
  calls: CallTracker, conduit: Conduit | undefined, tool: string, args: Record<string, unknown>, options: CallOptions, measured: boolean,
): WorkerStream {
  const inbox = new Inbox<unknown>();
  const call = calls.start(conduit, "ExecuteStreamingTool", tool, args, options, (msg) => inbox.push((msg as ToolChunk).data ?? null), (data) => inbox.pushAll(data));
  let durationUs = 0;
  call.done.then((end) => {
    durationUs = Number((end as { durationUs?: number } | undefined)?.durationUs ?? (measured ? call.elapsedMs * 1000 : 0));
    inbox.end();
  }, (err) => inbox.end(err));
  const chunks = inbox.read(
    (n) => conduit?.credit(call.id, n),
    () => call.cancel(new SnakepitError("aborted", `Stream of "${tool}" was closed by the consumer`)),
  );
  return {
    chunks,
    take: () => inbox.takeNow(),
    get durationUs() {
      return durationUs;
    },
  };
}

import { fromJson, toJson } from "@bufbuild/protobuf";
import { describe, expect, test } from "bun:test";
import { ToolChunksSchema } from "../../src/bridge/gen/snakepit/bridge/v1/bridge_pb.ts";
import { Channel, K } from "../../src/bridge/channel.ts";
import { FLAG_JSON } from "../../src/bridge/frames.ts";

const handlers = { unary: () => ({}), stream: async function* () {} };
const raw = (packet: unknown) => ({ flags: FLAG_JSON, json: JSON.stringify(packet), attachments: [] });

describe("Channel: MESSAGES packets (consecutive stream messages in one)", () => {
  test("a sink that takes batches gets the data array; one that does not gets each message with its seq", () => {
    const channel = new Channel(() => {}, handlers);
    const batches: unknown[][] = [];
    const batchId = channel.request("ExecuteStreamingTool", {}, { messages: (data) => batches.push(data), end() {} }, { streaming: true });
    const singles: unknown[] = [];
    const singleId = channel.request("ExecuteStreamingTool", {}, { message: (msg) => singles.push(msg), end() {} }, { streaming: true });
    channel.receive(raw({ k: K.MESSAGES, id: batchId, msg: { seq: 0, data: [1, "a", null] } }));
    channel.receive(raw({ k: K.MESSAGES, id: singleId, msg: { seq: 5, data: [1, { b: 2 }] } }));
    expect(batches).toEqual([[1, "a", null]]);
    expect(singles).toEqual([{ data: 1, seq: 5 }, { data: { b: 2 }, seq: 6 }]);
  });

  test("the message Python writes is the proto3 JSON of ToolChunks", () => {
    const msg = { seq: 3, data: [1, "a", null, { __snakepit__: "int", value: "1152921504606846976" }, [true]] };
    expect(toJson(ToolChunksSchema, fromJson(ToolChunksSchema, msg))).toEqual(msg);
  });

  test("a MESSAGES packet without a data array is a protocol error", () => {
    const channel = new Channel(() => {}, handlers);
    const id = channel.request("ExecuteStreamingTool", {}, { messages: () => {}, end() {} }, { streaming: true });
    expect(() => channel.receive(raw({ k: K.MESSAGES, id, msg: { seq: 0, data: 3 } }))).toThrow("data array");
  });
});

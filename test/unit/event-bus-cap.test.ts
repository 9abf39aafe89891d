import { describe, expect, test } from "bun:test";
import { createStreamSlots } from "../../src/api/stream-slots.ts";
import { ApiLimitsSchema } from "../../src/api/limits.ts";
import { checkJsonDepth, checkJsonShape } from "../../src/api/json-guard.ts";
import { EventBus } from "../../src/telemetry/bus.ts";

describe("EventBus catch-all listener cap", () => {
  test("refuses listeners past the cap with a typed error; unsubscribing frees a place", () => {
    const bus = new EventBus({ maxAnyListeners: 2 });
    const off = bus.onAny(() => {});
    bus.onAny(() => {});
    expect(() => bus.onAny(() => {})).toThrow(expect.objectContaining({ code: "pool_saturated", message: expect.stringContaining("at most 2") }));
    off();
    expect(() => bus.onAny(() => {})).not.toThrow();
  });
});

describe("createStreamSlots()", () => {
  test("caps per client, in total and for event subscribers; release is idempotent", () => {
    const slots = createStreamSlots(ApiLimitsSchema.parse({ maxStreams: 3, maxStreamsPerClient: 2, maxEventSubscribers: 1 }));
    const a1 = slots.acquire("a", "stream");
    slots.acquire("a", "events");
    expect(() => slots.acquire("a", "stream")).toThrow(/maxStreamsPerClient/);
    expect(() => slots.acquire("b", "events")).toThrow(/maxEventSubscribers/);
    slots.acquire("b", "stream");
    expect(() => slots.acquire("c", "stream")).toThrow(/server.limits.maxStreams\)/);
    a1();
    a1();
    expect(slots.open.total).toBe(2);
    expect(() => slots.acquire("a", "stream")).not.toThrow();
  });
});

describe("JSON shape limits", () => {
  const limits = ApiLimitsSchema.parse({ maxDepth: 4, maxValues: 10, maxKeys: 3 });
  test("depth is counted on the text, ignoring brackets inside strings", () => {
    expect(() => checkJsonDepth('{"a":"[[[[[[[[\\"[["}', 4)).not.toThrow();
    expect(() => checkJsonDepth("[[[[[]]]]]", 4)).toThrow(/limit of 4 levels/);
  });
  test("values, keys and lone surrogates", () => {
    expect(() => checkJsonShape(Array.from({ length: 20 }, () => 1), limits)).toThrow(/more than 10 values/);
    expect(() => checkJsonShape({ a: 1, b: 2, c: 3, d: 4 }, limits)).toThrow(/4 keys/);
    expect(() => checkJsonShape({ a: ["ok", "\ud800"] }, limits)).toThrow(/body.a\[1\] holds a lone UTF-16 surrogate/);
    expect(() => checkJsonShape({ ["\udc00"]: 1 }, limits)).toThrow(/a key/);
    expect(() => checkJsonShape({ a: [{ b: "😀" }] }, limits)).not.toThrow();
  });
});

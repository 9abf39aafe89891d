import { describe, expect, test } from "bun:test";
import { STREAM_WINDOW } from "../../src/bridge/channel.ts";
import { EMPTY, Inbox } from "../../src/bridge/inbox.ts";

const HALF = STREAM_WINDOW / 2;

describe("Inbox", () => {
  test("takeNow hands out what is waiting without a promise and grants credit as the reader comes back", async () => {
    const inbox = new Inbox<number>();
    const grants: number[] = [];
    const reader = inbox.read((n) => grants.push(n), () => grants.push(-1));
    for (let i = 0; i < HALF * 2 + 5; i++) inbox.push(i);
    expect(await reader.next()).toEqual({ value: 0, done: false });
    const got = [0];
    for (let item = inbox.takeNow(); item !== EMPTY; item = inbox.takeNow()) {
      got.push(item);
      if (got.length === HALF) expect(grants).toEqual([]); // the reader still holds the 128th
    }
    expect(got).toEqual(Array.from({ length: HALF * 2 + 5 }, (_, i) => i));
    // Back for more after every item: two half windows done (the last item is still held).
    expect(grants).toEqual([HALF, HALF]);
    inbox.push(99);
    expect(await reader.next()).toEqual({ value: 99, done: false });
    inbox.end();
    expect(await reader.next()).toEqual({ value: undefined, done: true });
    expect(grants).toEqual([HALF, HALF]); // ended by the sender: no cancel
  });

  test("a reader that takes nothing grants nothing (backpressure), and leaving early cancels", async () => {
    const inbox = new Inbox<number>();
    const grants: number[] = [];
    let cancelled = 0;
    const reader = inbox.read((n) => grants.push(n), () => cancelled++);
    for (let i = 0; i < STREAM_WINDOW; i++) inbox.push(i);
    expect((await reader.next()).value).toBe(0);
    await Bun.sleep(5);
    expect(grants).toEqual([]);
    await reader.return();
    expect(cancelled).toBe(1);
  });

  test("an error the sender ends with reaches the reader after the waiting items", async () => {
    const inbox = new Inbox<number>();
    const reader = inbox.read(() => {}, () => {});
    inbox.push(1);
    inbox.end(new Error("boom"));
    expect(await reader.next()).toEqual({ value: 1, done: false });
    expect(inbox.takeNow()).toBe(EMPTY);
    await expect(reader.next()).rejects.toThrow("boom");
  });

  test("pushAll adopts a batch (or appends it behind waiting items) and credit counts items, not batches", async () => {
    const inbox = new Inbox<number>();
    const grants: number[] = [];
    const reader = inbox.read((n) => grants.push(n), () => grants.push(-1));
    const first = Array.from({ length: HALF }, (_, i) => i);
    inbox.pushAll(first);
    inbox.push(HALF);
    inbox.pushAll(Array.from({ length: HALF }, (_, i) => HALF + 1 + i));
    const got: number[] = [(await reader.next()).value as number];
    for (let item = inbox.takeNow(); item !== EMPTY; item = inbox.takeNow()) got.push(item);
    expect(got).toEqual(Array.from({ length: HALF * 2 + 1 }, (_, i) => i));
    expect(grants).toEqual([HALF, HALF]);
    inbox.pushAll([7, 8]);
    inbox.end();
    expect(await reader.next()).toEqual({ value: 7, done: false });
    expect(await reader.next()).toEqual({ value: 8, done: false });
    expect(await reader.next()).toEqual({ value: undefined, done: true });
  });
});

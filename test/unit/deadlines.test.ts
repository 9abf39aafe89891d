// The deadline heap behind call and queue timeouts: order, removal, re-arming, no idle timer.
import { describe, expect, test } from "bun:test";
import { type Deadline, Deadlines } from "../../src/core/deadlines.ts";
import { FakeClock } from "../fake-clock.ts";

function item(at: number, fired: string[], name: string): Deadline {
  return { at, heapIndex: -1, heapSeq: 0, fire: () => fired.push(name) };
}

describe("Deadlines", () => {
  test("fires in time order, equal times in the order they were set, each at its time", async () => {
    const clock = new FakeClock();
    const d = new Deadlines(clock);
    const fired: string[] = [];
    for (const [at, name] of [[30, "c"], [10, "a"], [20, "b1"], [20, "b2"], [5, "first"]] as const) d.add(item(at, fired, name));
    await clock.advance(9);
    expect(fired).toEqual(["first"]);
    await clock.advance(11);
    expect(fired).toEqual(["first", "a", "b1", "b2"]);
    await clock.advance(100);
    expect(fired).toEqual(["first", "a", "b1", "b2", "c"]);
    expect(d.size).toBe(0);
  });

  test("a removed deadline never fires; removing twice or after firing is harmless", async () => {
    const clock = new FakeClock();
    const d = new Deadlines(clock);
    const fired: string[] = [];
    const items = Array.from({ length: 50 }, (_, i) => item(10 + ((i * 37) % 50), fired, String(i)));
    for (const x of items) d.add(x);
    for (let i = 0; i < 50; i += 2) d.remove(items[i]!);
    d.remove(items[0]!);
    await clock.advance(100);
    expect(fired.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => 2 * i + 1));
    const times = fired.map((n) => items[Number(n)]!.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    d.remove(items[1]!);
    expect(d.size).toBe(0);
  });

  test("an earlier deadline re-arms the timer; an empty heap leaves no timer behind", async () => {
    const clock = new FakeClock();
    const d = new Deadlines(clock);
    const fired: string[] = [];
    const late = item(1_000, fired, "late");
    d.add(late);
    d.add(item(10, fired, "early"));
    await clock.advance(10);
    expect(fired).toEqual(["early"]);
    d.remove(late);
    expect(clock.pending).toBe(0);
  });

  test("a deadline set while others fire is honoured", async () => {
    const clock = new FakeClock();
    const d = new Deadlines(clock);
    const fired: string[] = [];
    d.add({ at: 10, heapIndex: -1, heapSeq: 0, fire: () => {
      fired.push("a");
      d.add(item(15, fired, "added"));
    } });
    d.add(item(20, fired, "b"));
    await clock.advance(30);
    expect(fired).toEqual(["a", "added", "b"]);
  });
});

// A queued call is never overtaken by a later one taking a prefetch slot (it used to starve until
// its worker went idle: a 40 ms p99 at 64 HTTP connections). In-memory workers, fake time.
import { expect, test } from "bun:test";
import { sleepOn } from "../../src/core/clock.ts";
import { settle } from "../fake-clock.ts";
import { inMemoryPool } from "../in-memory-pool.ts";

test("calls start in arrival order when they queue behind prefetched ones", async () => {
  const started: number[] = [];
  const tools = { work: { run: (args: Record<string, unknown>, ctx: { clock: Parameters<typeof sleepOn>[0]; signal: AbortSignal }) => {
    started.push(Number(args.n));
    return sleepOn(ctx.clock, 10, ctx.signal).then(() => args.n);
  } } };
  await using pit = await inMemoryPool({ prefetch: 2, prefetchMaxServiceMs: 1_000 }, tools);
  const call = (n: number) => pit.pool.execute("work", { n });
  // 1 runs, 2 and 3 wait in the worker's pipe, 4 waits in the pool's queue.
  const first = [call(1), call(2), call(3), call(4)];
  expect(pit.pool.workers[0]!.inFlight).toBe(3);
  expect(pit.pool.snapshot().queued).toBe(1);
  await settle();
  // A caller that comes back for more as soon as 1 ends (as a busy HTTP client does).
  const later = first[0]!.then(() => call(5));
  await pit.clock.advance(10);
  await settle();
  expect(pit.pool.snapshot().queued).toBe(1); // 5 queues behind: 4 took the slot 1 left
  await pit.clock.advance(100);
  await Promise.all([...first, later]);
  expect(started).toEqual([1, 2, 3, 4, 5]);
});

test("a new call takes a free or prefetch slot at once when nothing waits", async () => {
  await using pit = await inMemoryPool({ prefetch: 2, prefetchMaxServiceMs: 1_000, poolSize: 2 });
  const calls = [1, 2, 3, 4, 5, 6].map((value) => pit.pool.execute("echo", { value }));
  expect(pit.pool.workers.map((w) => w.inFlight)).toEqual([3, 3]);
  expect(pit.pool.snapshot().queued).toBe(0);
  await pit.clock.advance(1);
  expect((await Promise.all(calls)).map((r) => r.result)).toEqual([1, 2, 3, 4, 5, 6]);
});

test("when the call at the head of the queue gives up, the calls behind it start at once", async () => {
  await using pit = await inMemoryPool({ prefetch: 2, prefetchMaxServiceMs: 1_000 });
  const first = pit.pool.execute("sleep", { ms: 50 });
  // A stream needs a free slot: it waits at the head, and the call after it queues behind it.
  const abort = new AbortController();
  const stream = pit.pool.stream("count", { n: 1 }, { signal: abort.signal });
  const streamDone = (async () => { for await (const _ of stream); })().catch((e) => e);
  await settle();
  const behind = pit.pool.execute("echo", { value: "behind" });
  await settle();
  expect(pit.pool.snapshot().queued).toBe(2);
  abort.abort();
  await settle();
  // The stream left; the echo takes the prefetch slot now, not when the sleep ends.
  expect(pit.pool.snapshot().queued).toBe(0);
  expect(pit.pool.workers[0]!.inFlight).toBe(2);
  await pit.clock.advance(60);
  expect((await behind).result).toBe("behind");
  expect(await first).toBeDefined();
  expect(String(await streamDone)).toContain("abort");
});

test("prefetch stays on under load: a call's wait behind prefetched calls is not counted as its run", async () => {
  await using pit = await inMemoryPool({ prefetch: 16, prefetchMaxServiceMs: 5 });
  const worker = pit.pool.workers[0]!;
  const burst = async () => {
    const calls = Array.from({ length: 20 }, () => pit.pool.execute("sleep", { ms: 1 }));
    const held = worker.inFlight;
    for (let i = 0; i < 25; i++) await pit.clock.advance(1);
    await Promise.all(calls);
    return held;
  };
  expect(await burst()).toBe(17); // one running, 16 in the pipe
  // The last calls of that burst waited ~17 ms from send to end, though each ran 1 ms.
  expect(await burst()).toBe(17);
});

test("no call is prefetched behind a tool that ignored a cancel, on its replacement worker too", async () => {
  await using pit = await inMemoryPool({ prefetch: 4, prefetchMaxServiceMs: 1_000, cancelGraceMs: 2_000 });
  const abort = new AbortController();
  const stuck = pit.pool.execute("hang", {}, { signal: abort.signal }).catch((e) => e);
  await settle();
  abort.abort();
  await pit.clock.advance(2_000); // the cancel grace runs out: the worker is replaced
  await settle(200);
  expect((await stuck).code).toBe("aborted");
  const fresh = pit.pool.workers.find((w) => w.state === "ready")!;
  expect(fresh.inFlight).toBe(0);
  const again = new AbortController();
  const second = pit.pool.execute("hang", {}, { signal: again.signal }).catch((e) => e);
  await settle();
  const quick = pit.pool.execute("echo", { value: 1 }, { timeoutMs: 10_000 });
  expect(fresh.inFlight).toBe(1); // the echo waits in the pool's queue, not behind the hang
  expect(pit.pool.snapshot().queued).toBe(1);
  again.abort();
  await pit.clock.advance(2_000);
  await settle(200);
  await expect(quick).resolves.toMatchObject({ result: 1 });
  expect((await second).code).toBe("aborted");
});

/** snakepit as a contender: the module API (`pit.execute`, `pit.stream`) over its worker pool. */

import { z } from "zod";
import { type ArrowIPC, type NDArray, Snakepit } from "../../src/mod.ts";
import { pin } from "../placement.ts";

const adapter = new URL("../adapters/bench.py", import.meta.url).pathname;

export async function startPit(python: string, poolSize: number, cpuList?: string): Promise<Snakepit> {
  const pit = await Snakepit.start({ adapter, poolSize, python });
  pit.tools.register("echo", { input: z.object({ x: z.number() }), handler: ({ x }) => x });
  if (cpuList) for (const w of pit.listWorkers()) pin(w.pid, cpuList);
  return pit;
}

export const pitCall = (pit: Snakepit) => (i: number) => pit.execute("add", { a: i, b: 1 });

export async function pitStream(pit: Snakepit, n: number): Promise<{ firstMs: number; count: number }> {
  const t0 = performance.now();
  let firstMs = 0;
  let count = 0;
  for await (const chunk of pit.stream<number>("chunks", { n })) {
    if (count === 0) firstMs = performance.now() - t0;
    if (chunk !== count++) throw new Error("snakepit stream out of order");
  }
  return { firstMs, count };
}

export async function pitBytes(pit: Snakepit, data: Uint8Array): Promise<Uint8Array> {
  return (await pit.execute("blob", { data })) as Uint8Array;
}

export async function pitF32(pit: Snakepit, data: Float32Array): Promise<Float32Array> {
  const out = (await pit.execute("f32", { x: { dtype: "float32", shape: [data.length], data } satisfies NDArray })) as NDArray;
  return out.data as Float32Array;
}

/** An Arrow IPC table there and back; the result is checked, then released (as a caller done with it would). */
export async function pitArrow(pit: Snakepit, ipc: ArrowIPC, check: (a: Uint8Array, b: Uint8Array, who: string) => void): Promise<void> {
  const back = (await pit.execute("arrow_echo", { t: ipc })) as ArrowIPC;
  check(ipc.bytes, back.bytes, "snakepit arrow");
  back.release();
}

/** Start a pool of `n` (by default forked from a bridge-only template on Linux) and make one call; ms until answered. */
export async function pitStart(python: string, n: number, startMode: "auto" | "spawn" = "auto"): Promise<number> {
  const t0 = performance.now();
  const pit = await Snakepit.start({ adapter, poolSize: n, python, startMode });
  await pit.execute("add", { a: 1, b: 1 });
  const ms = performance.now() - t0;
  await pit.close();
  return ms;
}

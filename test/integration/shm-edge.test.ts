// Shared memory where it can fail: a full /dev/shm (a small tmpfs in a private mount namespace)
// never crashes the host or a worker with SIGBUS and every call still answers intact; without
// bun:ffi the pool is off and big results still arrive; an undumpable host stops lending its
// segments (the worker could not open them), and so does a host whose worker failed to open one; a pooled handle the host cannot take fails that
// call only (typed error) and the worker keeps running. Each case runs a host process of its own.
import { describe, expect, test } from "bun:test";
import { shmEnabled } from "../../src/bridge/shm.ts";
import { fixture, PYTHON, ROOT } from "../helpers.ts";

const MiB = 1 << 20;
type Step = { step: string; ok: boolean; value?: unknown; code?: string; error?: string; workerPid?: number };

async function run(scenario: string, options: { wrap?: string[]; env?: Record<string, string>; adapter?: string } = {}): Promise<{ exitCode: number; steps: Map<string, Step>; out: string }> {
  const host = [process.execPath, `${ROOT}test/fixtures/shm-edge-host.ts`, scenario, fixture(options.adapter ?? "shm_tools.py"), PYTHON];
  const proc = Bun.spawn([...(options.wrap ?? []), ...host], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...options.env } });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const exitCode = await proc.exited;
  const steps = new Map<string, Step>();
  for (const line of out.split("\n")) if (line.startsWith("{")) steps.set((JSON.parse(line) as Step).step, JSON.parse(line) as Step);
  return { exitCode, steps, out: out + err.slice(-2000) };
}

/** A private mount namespace with an 8 MiB tmpfs on /dev/shm (root and unshare needed). */
const smallShm = (() => {
  if (!shmEnabled()) return "shared memory is off here";
  if (process.getuid?.() !== 0) return "needs root to mount a small tmpfs";
  const probe = Bun.spawnSync(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=8m tmpfs /dev/shm"], { stderr: "pipe" });
  return probe.exitCode === 0 ? "" : `unshare/mount unavailable: ${probe.stderr.toString().trim()}`;
})();
if (smallShm) console.log(`full /dev/shm tests skipped: ${smallShm}`);
const inSmallShm = ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=8m tmpfs /dev/shm && exec "$@"', "sh"];

describe.skipIf(!shmEnabled())("shared memory where it fails", () => {
  test.skipIf(!!smallShm)("a full /dev/shm: no SIGBUS, every payload goes through the pipe intact (explicit 64 MiB pool)", async () => {
    const r = await run("full", { wrap: inSmallShm, env: { SNAKEPIT_SHM_POOL_BYTES: String(64 * MiB) } });
    expect(r.exitCode, r.out).toBe(0);
    expect(r.steps.get("budget")?.value).toBe(64 * MiB);
    expect(r.steps.get("argument while full")?.value).toEqual([6 * MiB, 2, 2]);
    expect(r.steps.get("result while full")?.value).toEqual([6 * MiB, 3, 3]);
    expect(r.steps.get("kept intact")?.value).toEqual([6 * MiB, 1, 1]);
    expect(r.steps.get("end")?.ok).toBe(true);
  }, 60_000);

  test.skipIf(!!smallShm)("the default pool budget adapts to a small /dev/shm (an eighth of it), and calls still answer", async () => {
    const r = await run("full", { wrap: ["env", "-u", "SNAKEPIT_SHM_POOL_BYTES", ...inSmallShm] });
    expect(r.exitCode, r.out).toBe(0);
    expect(r.steps.get("budget")?.value).toBe(MiB);
    expect(r.steps.get("argument while full")?.value).toEqual([6 * MiB, 2, 2]);
    expect(r.steps.get("kept intact")?.value).toEqual([6 * MiB, 1, 1]);
  }, 60_000);

  test("without bun:ffi (musl): no pool, big results and arguments still arrive", async () => {
    const r = await run("no-ffi");
    expect(r.exitCode, r.out).toBe(0);
    expect(r.steps.get("ffi")?.value).toBe(true);
    expect(r.steps.get("result")?.value).toEqual([2 * MiB, 4, 4]);
    expect(r.steps.get("argument")?.value).toEqual([2 * MiB, 5, 5]);
  }, 60_000);

  test("an undumpable host stops lending its segments: big arguments still arrive", async () => {
    const r = await run("undumpable");
    expect(r.exitCode, r.out).toBe(0);
    expect(r.steps.get("budget")?.value).toBe(0);
    expect(r.steps.get("argument 0")?.value).toEqual([2 * MiB, 7, 7]);
    expect(r.steps.get("argument 1")?.value).toEqual([2 * MiB, 8, 8]);
  }, 60_000);

  test("a worker that cannot open the host's segments (an LSM policy): the first such call fails with internal, then the host sends one-shot", async () => {
    const r = await run("cannot-open", { adapter: "shm_no_open.py" });
    expect(r.exitCode, r.out).toBe(0);
    expect(r.steps.get("argument 0")).toMatchObject({ ok: false, code: "internal" }); // not invalid_argument: the caller did nothing wrong
    expect(r.steps.get("argument 0")?.error).toMatch(/could not be mapped: PermissionError/);
    for (let i = 1; i < 5; i++) expect(r.steps.get(`argument ${i}`)?.value).toEqual([2 * MiB, i, i]);
    expect(r.steps.get("budget")?.value).toBe(0);
    expect(new Set([...r.steps.values()].map((s) => s.workerPid).filter(Boolean)).size).toBe(1); // one worker throughout
  }, 60_000);

  test("a pooled result or stream chunk the host cannot take fails that call (internal), not the worker", async () => {
    const r = await run("forged");
    expect(r.exitCode, r.out).toBe(0);
    const forged = r.steps.get("forged result")!;
    expect(forged).toMatchObject({ ok: false, code: "internal" });
    expect(forged.error).toMatch(/lease is over/);
    const next = r.steps.get("next call")!;
    expect(next.value).toEqual([2 * MiB, 9, 9]);
    expect(next.workerPid).toBe(forged.workerPid!); // the same worker: not killed
    const stream = r.steps.get("forged stream")!.value as { seen: number[]; code?: string; error?: string };
    expect(stream.code).toBe("internal"); // the stream fails at its bad chunk
    expect([[], [1]]).toContainEqual(stream.seen); // (the worker may encode chunks in batches)
    expect(stream.error).toMatch(/lease is over/);
    expect(r.steps.get("after the stream")).toMatchObject({ value: [2 * MiB, 10, 10], workerPid: forged.workerPid });
  }, 60_000);
});

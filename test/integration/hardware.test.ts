import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { Snakepit } from "../../src/snakepit.ts";
import { clearHardwareCache } from "../../src/hardware/detect.ts";
import { createApp } from "../../src/api/app.ts";
import { fakeGpuTools } from "../fixtures/fake-gpu-tools.ts";
import { fixture, PYTHON, ROOT } from "../helpers.ts";

const ORIGINAL_PATH = process.env.PATH;
afterEach(() => {
  process.env.PATH = ORIGINAL_PATH;
  clearHardwareCache();
});

describe("devices: auto", () => {
  test("4 workers on 2 GPUs get cuda:0,1,0,1 with CUDA_VISIBLE_DEVICES and ctx.device; GPUs are sampled", async () => {
    using tools = fakeGpuTools("two");
    process.env.PATH = tools.path;
    const samples: Array<{ device: string; memoryUsedMb: number }> = [];
    await using pit = await Snakepit.start(
      { adapter: fixture("device_probe.py"), python: PYTHON, poolSize: 4, startupBatchSize: 4, devices: "auto", gpuSampleIntervalMs: 50 },
      { on: { "gpu.sample": (e: { device: string; memoryUsedMb: number }) => samples.push(e) } },
    );
    const workers = pit.listWorkers();
    expect(workers.map((w) => w.device)).toEqual(["cuda:0", "cuda:1", "cuda:0", "cuda:1"]);
    const seen = new Map<string, { device: string; local: string; env: Record<string, string | null> }>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const r = await pit.execute<{ device: string; local: string; env: Record<string, string | null> }>("where", {});
      seen.set(r.device, r);
    }
    expect(seen.get("cuda:1")).toMatchObject({ local: "cuda:0", env: { CUDA_VISIBLE_DEVICES: "1", SNAKEPIT_DEVICE: "cuda:1" } });
    const deadline = Date.now() + 10_000;
    while (samples.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(samples.find((s) => s.device === "cuda:0")).toMatchObject({ memoryUsedMb: 1024 });
    const metrics = await pit.telemetry.metrics();
    expect(metrics).toContain('snakepit_gpu_memory_used_bytes{device="cuda:0",name="NVIDIA GeForce RTX 3090"} 1073741824');
    expect(metrics).toContain('snakepit_gpu_utilization_ratio{device="cuda:0",name="NVIDIA GeForce RTX 3090"} 0.37');
  }, 60_000);

  test("without a GPU, auto gives CPU workers that see no GPU, and no profiler runs", async () => {
    using tools = fakeGpuTools("failing");
    process.env.PATH = tools.path;
    let sampled = 0;
    await using pit = await Snakepit.start({ adapter: fixture("device_probe.py"), python: PYTHON, poolSize: 1, devices: "auto", gpuSampleIntervalMs: 10 }, { on: { "gpu.sample": () => sampled++ } });
    expect(pit.listWorkers()[0]!.device).toBe("cpu");
    const r = await pit.execute<{ device: string; env: Record<string, string | null> }>("where", {});
    expect(r).toMatchObject({ device: "cpu", env: { CUDA_VISIBLE_DEVICES: "", HIP_VISIBLE_DEVICES: "" } });
    expect(sampled).toBe(0);
  }, 60_000);

  test("GET /v1/hardware answers the detection", async () => {
    using tools = fakeGpuTools("two");
    process.env.PATH = tools.path;
    await using pit = await Snakepit.start({ adapter: fixture("device_probe.py"), python: PYTHON, poolSize: 1 });
    const res = await createApp({ pit, version: "test" } as Parameters<typeof createApp>[0]).request("/v1/hardware");
    expect(res.status).toBe(200);
    const body = await res.json() as { accelerator: string; gpus: Array<{ id: string }>; cpu: { threads: number } };
    expect(body.accelerator).toBe("cuda");
    expect(body.gpus.map((g) => g.id)).toEqual(["cuda:0", "cuda:1"]);
    expect(body.cpu.threads).toBeGreaterThan(0);
    expect((await Snakepit.hardware()).gpus.map((g) => g.id)).toEqual(["cuda:0", "cuda:1"]);
  }, 60_000);
});

describe("thread limits", () => {
  test("a process-profile worker sees the five variables = 1 and listWorkers() shows them", async () => {
    await using pit = await Snakepit.start({ adapter: fixture("device_probe.py"), python: PYTHON, poolSize: 1 });
    const r = await pit.execute<{ env: Record<string, string | null> }>("where", {});
    for (const v of ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"]) expect(r.env[v]).toBe("1");
    expect(pit.listWorkers()[0]!.threadLimits).toMatchObject({ OMP_NUM_THREADS: "1", VECLIB_MAXIMUM_THREADS: "1" });
  }, 60_000);

  test("numpy's BLAS thread pool in a process-profile worker has 1 thread", async () => {
    // Debian's numpy uses single-threaded reference BLAS; a wheel's numpy bundles threaded OpenBLAS.
    const candidates = [PYTHON, ...["3.11.7", "3.12.1", "3.13.0", "3.10.13", "3.9.18"].map((v) => `/root/.pyenv/versions/${v}/bin/python`)].filter(existsSync);
    let chosen: string | undefined;
    for (const python of candidates) {
      const p = Bun.spawnSync([python, "-m", "snakepit_bridge.threadpools"], { env: { ...process.env, PYTHONPATH: `${ROOT}python` } });
      const out = p.exitCode === 0 ? JSON.parse(p.stdout.toString()) as { pools: Array<{ threads: number | null }> } : undefined;
      if (out?.pools.some((x) => (x.threads ?? 0) > 0)) {
        chosen = python;
        break;
      }
    }
    if (!chosen) {
      console.log(`skipped: no interpreter among ${candidates.join(", ")} has numpy with a threaded BLAS/OpenMP pool`);
      return;
    }
    await using pit = await Snakepit.start({ adapter: fixture("device_probe.py"), python: chosen, poolSize: 1 });
    const r = await pit.execute<{ numpy: string; pools: Array<{ kind: string; threads: number }> }>("threadpools", {});
    expect(r.pools.length).toBeGreaterThan(0);
    for (const pool of r.pools) expect(pool.threads).toBe(1);
  }, 60_000);

  test("a thread-profile pool warns at start about an adapter importing an unsafe library", async () => {
    const warnings: Array<{ library: string }> = [];
    await using pit = await Snakepit.start(
      { adapter: fixture("imports_pandas.py"), python: PYTHON, poolSize: 1, workerProfile: "thread", threadsPerWorker: 2 },
      { on: { "pool.thread_safety": (e: { library: string }) => warnings.push(e) } },
    );
    expect(warnings.map((w) => w.library)).toEqual(["pandas"]);
    expect(await pit.execute("ok", {})).toBe("ok");
  }, 60_000);
});

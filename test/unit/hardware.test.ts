import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { deviceEnv, resolveDevices } from "../../src/hardware/assign.ts";
import { parseCpuinfo, parseMeminfo } from "../../src/hardware/cpu.ts";
import { clearHardwareCache, detectHardware } from "../../src/hardware/detect.ts";
import { parseNvidiaCsv } from "../../src/hardware/nvidia.ts";
import { threadEnv } from "../../src/hardware/threads.ts";
import { chooseDevice } from "../../src/pool/devices.ts";
import { fakeGpuTools } from "../fixtures/fake-gpu-tools.ts";

afterEach(() => clearHardwareCache());
const env = (path: string) => ({ ...process.env, PATH: path }) as Record<string, string>;

describe("detectHardware()", () => {
  test("reads two NVIDIA GPUs from nvidia-smi's CSV query and its banner", async () => {
    using tools = fakeGpuTools("two");
    const hw = await detectHardware({ env: env(tools.path), refresh: true });
    expect(hw.accelerator).toBe("cuda");
    expect(hw.cuda).toMatchObject({ available: true, driverVersion: "535.104.05", version: "12.2" });
    expect(hw.cuda.devices).toEqual([
      { id: "cuda:0", kind: "cuda", index: 0, name: "NVIDIA GeForce RTX 3090", memoryTotalMb: 24576, memoryUsedMb: 1024, utilizationPct: 37 },
      { id: "cuda:1", kind: "cuda", index: 1, name: "NVIDIA GeForce RTX 3090", memoryTotalMb: 24576, memoryUsedMb: 3, utilizationPct: 0 },
    ]);
    expect(hw.gpus.map((g) => g.id)).toEqual(["cuda:0", "cuda:1"]);
  });

  test("says why when nvidia-smi finds no GPU, fails, or is absent", async () => {
    using none = fakeGpuTools("none");
    const a = await detectHardware({ env: env(none.path), refresh: true });
    expect(a.cuda).toMatchObject({ available: false, devices: [], reason: "nvidia-smi: No devices were found" });
    expect(a.accelerator).toBe("cpu");
    using failing = fakeGpuTools("failing");
    const b = await detectHardware({ env: env(failing.path), refresh: true });
    expect(b.cuda.available).toBe(false);
    expect(b.cuda.reason).toContain("nvidia-smi failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver");
    const c = await detectHardware({ env: env("/nonexistent"), refresh: true });
    expect(c.cuda.reason).toBe("nvidia-smi not found on PATH");
    expect(c.rocm.reason).toBe("rocm-smi not found on PATH");
    expect(c.mps.reason).toContain(process.platform === "darwin" ? "Apple Silicon" : "MPS needs macOS");
  });

  test("reads AMD GPUs from rocm-smi's JSON, and its failures", async () => {
    using tools = fakeGpuTools("failing", "two");
    const hw = await detectHardware({ env: env(tools.path), refresh: true });
    expect(hw.accelerator).toBe("rocm");
    expect(hw.rocm.devices[1]).toEqual({ id: "rocm:1", kind: "rocm", index: 1, name: "Radeon RX 7900 XTX", memoryTotalMb: 16368, memoryUsedMb: 10, utilizationPct: 0 });
    expect(hw.rocm.devices[0]!.utilizationPct).toBe(12);
    using none = fakeGpuTools("none", "none");
    expect((await detectHardware({ env: env(none.path), refresh: true })).rocm).toMatchObject({ available: false, reason: "rocm-smi listed no GPUs" });
    using bad = fakeGpuTools("none", "failing");
    expect((await detectHardware({ env: env(bad.path), refresh: true })).rocm.reason).toContain("rocm-smi failed (exit 2): ERROR:root:Driver not initialized");
  });

  test("is cached until refreshed", async () => {
    using tools = fakeGpuTools("two");
    const first = await detectHardware({ env: env(tools.path) });
    expect(await detectHardware({ env: env(tools.path) })).toBe(first);
    expect(await detectHardware({ env: env(tools.path), refresh: true })).not.toBe(first);
  });

  test("matches /proc/cpuinfo and /proc/meminfo on Linux", async () => {
    if (process.platform !== "linux") {
      console.log("skipped: /proc is Linux only");
      return;
    }
    const hw = await detectHardware({ env: env("/nonexistent"), refresh: true });
    const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
    expect(hw.cpu.threads).toBe((cpuinfo.match(/^processor\s*:/gm) ?? []).length);
    const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim();
    if (model) expect(hw.cpu.model).toBe(model);
    const total = Number(/^MemTotal:\s*(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]);
    expect(hw.cpu.memoryTotalMb).toBe(Math.floor(total / 1024));
    expect(hw.cpu.cores).toBeGreaterThanOrEqual(1);
    expect(hw.cpu.cores).toBeLessThanOrEqual(hw.cpu.threads);
  });
});

describe("parsers", () => {
  test("parseCpuinfo counts physical cores and keeps notable flags", () => {
    const block = (p: number, core: number) => `processor\t: ${p}\nmodel name\t: Test CPU\nphysical id\t: 0\ncore id\t\t: ${core}\nflags\t\t: fpu sse4_2 avx avx2 fma\n`;
    const info = parseCpuinfo([block(0, 0), block(1, 0), block(2, 1), block(3, 1)].join("\n"));
    expect(info).toEqual({ model: "Test CPU", threads: 4, cores: 2, features: ["sse4_2", "avx", "avx2", "fma"] });
    expect(parseMeminfo("MemTotal:       8000000 kB\nMemFree: 10 kB\nMemAvailable:   4096000 kB\n")).toEqual({ totalMb: 7812, availableMb: 4000 });
  });

  test("parseNvidiaCsv keeps commas in names and reads [N/A] as unknown", () => {
    const { devices } = parseNvidiaCsv("0, Tesla T4, rev, B, 15360, 0, [N/A], 550.54.15\n");
    expect(devices[0]).toMatchObject({ name: "Tesla T4, rev, B", memoryTotalMb: 15360, utilizationPct: null });
  });
});

describe("resolveDevices()", () => {
  const hwWith = async (path: string) => detectHardware({ env: env(path), refresh: true });

  test("auto with 4 workers and 2 GPUs assigns 0,1,0,1", async () => {
    using tools = fakeGpuTools("two");
    const devices = resolveDevices("auto", await hwWith(tools.path));
    expect(devices).toEqual(["cuda:0", "cuda:1"]);
    const given: string[] = [];
    for (let i = 0; i < 4; i++) given.push(chooseDevice(devices, given, new Map(), 0)!);
    expect(given).toEqual(["cuda:0", "cuda:1", "cuda:0", "cuda:1"]);
  });

  test("falls back cuda -> rocm -> mps -> cpu, and fails clearly without a fallback", async () => {
    using amd = fakeGpuTools("failing", "two");
    expect(resolveDevices(["cuda", "rocm", "cpu"], await hwWith(amd.path))).toEqual(["rocm:0", "rocm:1"]);
    const none = await hwWith("/nonexistent");
    expect(resolveDevices("auto", none)).toEqual(["cpu"]);
    expect(resolveDevices(["auto"], none)).toEqual(["cpu"]);
    expect(resolveDevices(["cuda", "mps", "cpu"], none)).toEqual(["cpu"]);
    expect(() => resolveDevices(["cuda"], none, "gpu")).toThrow(expect.objectContaining({ code: "config_invalid", message: expect.stringContaining("nvidia-smi not found on PATH") }));
    expect(() => resolveDevices(["cuda", "cuda:1"], none)).toThrow(expect.objectContaining({ code: "config_invalid" }));
    expect(resolveDevices(["cuda:3", "cuda:5"], undefined)).toEqual(["cuda:3", "cuda:5"]);
    expect(resolveDevices("cpu", undefined)).toEqual(["cpu"]);
  });

  test("deviceEnv() sets each vendor's visibility variable; a CPU worker sees no GPU", () => {
    expect(deviceEnv("cuda:1")).toEqual({ SNAKEPIT_DEVICE: "cuda:1", SNAKEPIT_LOCAL_DEVICE: "cuda:0", CUDA_VISIBLE_DEVICES: "1" });
    expect(deviceEnv("rocm:1")).toEqual({ SNAKEPIT_DEVICE: "rocm:1", SNAKEPIT_LOCAL_DEVICE: "cuda:0", HIP_VISIBLE_DEVICES: "1" });
    expect(deviceEnv("cpu")).toEqual({ SNAKEPIT_DEVICE: "cpu", SNAKEPIT_LOCAL_DEVICE: "cpu", CUDA_VISIBLE_DEVICES: "", HIP_VISIBLE_DEVICES: "" });
    expect(deviceEnv(undefined)).toEqual({});
  });

  test("a tainted device is avoided while others exist", () => {
    const taints = new Map([["cuda:0", 10_000]]);
    expect(chooseDevice(["cuda:0", "cuda:1"], ["cuda:1"], taints, 5_000)).toBe("cuda:1");
  });
});

describe("threadEnv()", () => {
  const base = { workerProfile: "process" as const, threadsPerWorker: 10, poolSize: 4, env: {} };
  test("is 1 under the process profile, the worker's core share under the thread profile, configured values win", () => {
    expect(new Set(Object.values(threadEnv(base, 16)))).toEqual(new Set(["1"]));
    expect(threadEnv({ ...base, workerProfile: "thread" }, 16).OMP_NUM_THREADS).toBe("4");
    expect(threadEnv({ ...base, workerProfile: "thread", threadsPerWorker: 2 }, 16).OMP_NUM_THREADS).toBe("2");
    expect(threadEnv({ ...base, workerProfile: "thread" }, 2).OMP_NUM_THREADS).toBe("1");
    expect(threadEnv({ ...base, mathThreads: 3 }, 16).MKL_NUM_THREADS).toBe("3");
    expect(threadEnv({ ...base, env: { OMP_NUM_THREADS: "8" } }, 16)).toMatchObject({ OMP_NUM_THREADS: "8", OPENBLAS_NUM_THREADS: "1" });
  });
});

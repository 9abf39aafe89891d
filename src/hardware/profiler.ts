/**
 * GPU profiler: samples each GPU's memory and utilization on an interval and emits `gpu.sample`
 * events (which the Prometheus gauges follow). Started only when GPUs were found.
 */

import type { EventBus } from "../telemetry/bus.ts";
import { detectNvidia } from "./nvidia.ts";
import { detectRocm } from "./rocm.ts";
import type { GpuDevice, HardwareInfo } from "./types.ts";
import { detectHardware } from "./detect.ts";

/** Options of a `GpuProfiler`. */
export interface GpuProfilerOptions {
  /** Time between samples; 0 turns the profiler off. @default 5000 */
  intervalMs?: number;
  /** Environment for nvidia-smi / rocm-smi. */
  env: Record<string, string>;
}

/** Samples GPUs until stopped. */
export class GpuProfiler {
  readonly #bus: EventBus;
  readonly #options: GpuProfilerOptions;
  readonly #kinds: { cuda: boolean; rocm: boolean };
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Samples taken so far. */
  samples = 0;
  /** The latest reading of every GPU. */
  last: GpuDevice[] = [];

  constructor(bus: EventBus, hw: HardwareInfo, options: GpuProfilerOptions) {
    this.#bus = bus;
    this.#options = options;
    this.#kinds = { cuda: hw.cuda.available, rocm: hw.rocm.available };
  }

  /** True when there is something to sample and an interval to do it on. */
  get isEnabled(): boolean {
    return (this.#kinds.cuda || this.#kinds.rocm) && (this.#options.intervalMs ?? 5_000) > 0;
  }

  /** Start sampling (a no-op without GPUs or with interval 0). */
  start(): this {
    if (this.isEnabled && !this.#stopped && !this.#timer) this.#schedule(0);
    return this;
  }

  /** Take one sample now and emit it. */
  async sampleNow(): Promise<GpuDevice[]> {
    const [cuda, rocm] = await Promise.all([
      this.#kinds.cuda ? detectNvidia(this.#options.env, false) : undefined,
      this.#kinds.rocm ? detectRocm(this.#options.env) : undefined,
    ]);
    const devices = [...(cuda?.devices ?? []), ...(rocm?.devices ?? [])];
    this.samples++;
    this.last = devices;
    for (const d of devices) {
      this.#bus.emit("gpu.sample", {
        device: d.id, kind: d.kind, name: d.name, memoryUsedMb: d.memoryUsedMb, memoryTotalMb: d.memoryTotalMb, utilizationPct: d.utilizationPct,
      });
    }
    return devices;
  }

  /** Stop sampling; waits for a sample in progress. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#running = this.sampleNow().then(() => undefined, () => undefined).finally(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#schedule(this.#options.intervalMs ?? 5_000);
      });
    }, delayMs);
  }
}

/** Start one profiler for a Snakepit: the shortest non-zero interval of its pools; none without GPUs. */
export async function startGpuProfiler(bus: EventBus, intervalsMs: readonly number[], env: Record<string, string>, hw?: HardwareInfo): Promise<GpuProfiler | undefined> {
  const on = intervalsMs.filter((ms) => ms > 0);
  if (on.length === 0) return undefined;
  const profiler = new GpuProfiler(bus, hw ?? await detectHardware({ env }), { intervalMs: Math.min(...on), env });
  return profiler.isEnabled ? profiler.start() : undefined;
}

/** Prometheus gauges for GPUs, following the profiler's `gpu.sample` events. */

import { Gauge, type Registry } from "prom-client";
import type { EventBus, SnakepitEvents } from "../telemetry/bus.ts";

/** Register `snakepit_gpu_*` gauges on `registry`, fed by `gpu.sample` events. */
export function registerGpuGauges(registry: Registry, bus: EventBus): void {
  const latest = new Map<string, SnakepitEvents["gpu.sample"]>();
  bus.on("gpu.sample", (e) => latest.set(e.device, e));
  const gauge = (name: string, help: string, read: (e: SnakepitEvents["gpu.sample"]) => number | null) =>
    new Gauge({
      name, help, labelNames: ["device", "name"], registers: [registry],
      collect() {
        this.reset();
        for (const e of latest.values()) {
          const v = read(e);
          if (v !== null) this.set({ device: e.device, name: e.name }, v);
        }
      },
    });
  gauge("snakepit_gpu_memory_used_bytes", "GPU memory in use, per device", (e) => e.memoryUsedMb * 1048576);
  gauge("snakepit_gpu_memory_total_bytes", "GPU memory, per device", (e) => e.memoryTotalMb * 1048576);
  gauge("snakepit_gpu_utilization_ratio", "GPU busy fraction (0-1), per device", (e) => e.utilizationPct === null ? null : e.utilizationPct / 100);
}

/** NVIDIA GPUs through nvidia-smi's query interface (CSV, no header, no units). */

import { runTool } from "./tool.ts";
import type { GpuDevice, VendorInfo } from "./types.ts";

/** The fields asked of `nvidia-smi --query-gpu`, in this order. */
export const NVIDIA_QUERY = "index,name,memory.total,memory.used,utilization.gpu,driver_version";

const num = (s: string | undefined): number | null => {
  const n = Number(s);
  return s === undefined || s === "" || Number.isNaN(n) ? null : n; // "[N/A]", "[Not Supported]"
};

/** Parse `nvidia-smi --query-gpu=<NVIDIA_QUERY> --format=csv,noheader,nounits` output. */
export function parseNvidiaCsv(text: string): { devices: GpuDevice[]; driverVersion: string | undefined } {
  const devices: GpuDevice[] = [];
  let driverVersion: string | undefined;
  for (const line of text.split("\n")) {
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length < 6) continue;
    // Names may contain commas: the first cell is the index, the last four are numbers and the driver.
    const [indexCell, ...rest] = cells;
    const driver = rest.pop()!;
    const [total, used, util] = rest.splice(-3);
    const index = num(indexCell);
    if (index === null) continue;
    driverVersion ??= driver;
    devices.push({
      id: `cuda:${index}`, kind: "cuda", index, name: rest.join(", "),
      memoryTotalMb: num(total) ?? 0, memoryUsedMb: num(used) ?? 0, utilizationPct: num(util),
    });
  }
  return { devices, driverVersion };
}

/** The CUDA version from nvidia-smi's banner ("CUDA Version: 12.2"). */
export function parseCudaVersion(banner: string): string | undefined {
  return /CUDA Version:\s*([\d.]+)/.exec(banner)?.[1];
}

/** Query nvidia-smi; `withVersion` also reads the banner for the CUDA version (one more run). */
export async function detectNvidia(env: Record<string, string>, withVersion = true): Promise<VendorInfo> {
  const out = await runTool("nvidia-smi", [`--query-gpu=${NVIDIA_QUERY}`, "--format=csv,noheader,nounits"], env);
  if (!out.ok) {
    const none = /No devices were found/i.test(out.reason);
    return { available: false, devices: [], reason: none ? "nvidia-smi: No devices were found" : out.reason };
  }
  const { devices, driverVersion } = parseNvidiaCsv(out.stdout);
  if (devices.length === 0) return { available: false, devices, reason: `nvidia-smi listed no GPUs: ${out.stdout.trim().slice(0, 120) || "(empty output)"}` };
  let version: string | undefined;
  if (withVersion) {
    const banner = await runTool("nvidia-smi", [], env);
    version = banner.ok ? parseCudaVersion(banner.stdout) : undefined;
  }
  return { available: true, devices, driverVersion, version };
}

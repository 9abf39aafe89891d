/** Apple's Metal Performance Shaders: Apple Silicon Macs only. */

import { totalmem } from "node:os";
import { runTool } from "./tool.ts";
import type { VendorInfo } from "./types.ts";

/** MPS on this host: available on darwin/arm64, with the chip's name; otherwise why not. */
export async function detectMps(env: Record<string, string>, platform: string = process.platform, arch: string = process.arch): Promise<VendorInfo> {
  if (platform !== "darwin") return { available: false, devices: [], reason: "MPS needs macOS (this is " + platform + ")" };
  if (arch !== "arm64") return { available: false, devices: [], reason: "MPS needs Apple Silicon (this Mac is " + arch + ")" };
  const brand = await runTool("sysctl", ["-n", "machdep.cpu.brand_string"], env, 3_000);
  return {
    available: true,
    devices: [{
      id: "mps", kind: "mps", index: 0, name: brand.ok ? brand.stdout.trim() : "Apple Silicon GPU",
      memoryTotalMb: Math.floor(totalmem() / 1048576), memoryUsedMb: 0, utilizationPct: null,
    }],
  };
}

/**
 * `Snakepit.hardware()`: CPU, memory, NVIDIA (nvidia-smi), AMD (rocm-smi) and Apple MPS, each
 * with a reason when absent. Cached (30 s by default) so callers may ask freely.
 */

import { hostEnv } from "../runtime/process.ts";
import { detectCpu } from "./cpu.ts";
import { detectMps } from "./mps.ts";
import { detectNvidia } from "./nvidia.ts";
import { detectRocm } from "./rocm.ts";
import { DEFAULT_PREFERENCE, type HardwareInfo } from "./types.ts";

/** Options of `detectHardware()`. */
export interface DetectOptions {
  /** Skip the cache and detect again. @default false */
  refresh?: boolean;
  /** Age after which a cached answer is detected again. @default 30000 */
  maxAgeMs?: number;
  /** Environment for the vendor tools (PATH decides which nvidia-smi runs). @default the host's */
  env?: Record<string, string>;
}

let cached: { at: number; path: string; info: Promise<HardwareInfo> } | undefined;

/** Detect the hardware of this host (cached). Never throws: absent parts say why. */
export function detectHardware(options: DetectOptions = {}): Promise<HardwareInfo> {
  const env = options.env ?? hostEnv();
  const path = env.PATH ?? "";
  const now = Date.now();
  if (!options.refresh && cached && cached.path === path && now - cached.at < (options.maxAgeMs ?? 30_000)) return cached.info;
  const info = detect(env);
  cached = { at: now, path, info };
  return info;
}

/** Forget the cached answer (after plugging in a GPU, or between tests). */
export function clearHardwareCache(): void {
  cached = undefined;
}

async function detect(env: Record<string, string>): Promise<HardwareInfo> {
  const t0 = performance.now();
  const [cuda, rocm, mps] = await Promise.all([detectNvidia(env), detectRocm(env), detectMps(env)]);
  const present = { cuda: cuda.available, rocm: rocm.available, mps: mps.available, cpu: true };
  const arch = process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? (process.platform === "darwin" ? "arm64" : "aarch64") : process.arch;
  return {
    platform: `${process.platform}-${arch}`,
    accelerator: DEFAULT_PREFERENCE.find((k) => present[k]) ?? "cpu",
    cpu: detectCpu(),
    cuda,
    rocm,
    mps,
    gpus: [...cuda.devices, ...rocm.devices, ...mps.devices],
    detectedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - t0),
  };
}

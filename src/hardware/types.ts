/** The shapes `Snakepit.hardware()` returns: CPU, memory and each accelerator vendor. */

/** An accelerator family, in the default order of preference. */
export type DeviceKind = "cuda" | "rocm" | "mps" | "cpu";

/** The default fallback order (the seed's `select_with_fallback([:cuda, :rocm, :mps, :cpu])`). */
export const DEFAULT_PREFERENCE: readonly DeviceKind[] = ["cuda", "rocm", "mps", "cpu"];

/** The processor and the memory of the host. */
export interface CpuInfo {
  model: string;
  /** Physical cores (falls back to logical threads when the topology is unknown). */
  cores: number;
  /** Logical processors (hyper-threads included). */
  threads: number;
  /** Instruction-set extensions worth knowing for inference (avx, avx2, avx512f, fma, neon, ...). */
  features: string[];
  memoryTotalMb: number;
  memoryAvailableMb: number;
}

/** One GPU as its vendor tool reports it. */
export interface GpuDevice {
  /** Device name as workers are given it: `cuda:0`, `rocm:1`, `mps`. */
  id: string;
  kind: DeviceKind;
  index: number;
  name: string;
  memoryTotalMb: number;
  memoryUsedMb: number;
  /** Busy percentage, or null when the tool does not report it. */
  utilizationPct: number | null;
}

/** What one vendor's detection found, or why it found nothing. */
export interface VendorInfo {
  available: boolean;
  devices: GpuDevice[];
  /** Why nothing was found (tool missing, failing, no devices, not macOS). */
  reason?: string | undefined;
  driverVersion?: string | undefined;
  /** CUDA version (NVIDIA) or ROCm version (AMD), when the tool says. */
  version?: string | undefined;
}

/** Everything `Snakepit.hardware()` knows. */
export interface HardwareInfo {
  /** `linux-x86_64`, `darwin-arm64`, ... */
  platform: string;
  /** The best accelerator present, in the default preference order. */
  accelerator: DeviceKind;
  cpu: CpuInfo;
  cuda: VendorInfo;
  rocm: VendorInfo;
  mps: VendorInfo;
  /** Every GPU found, all vendors. */
  gpus: GpuDevice[];
  detectedAt: string;
  durationMs: number;
}

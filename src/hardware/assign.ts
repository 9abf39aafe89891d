/**
 * Which devices a pool's workers get: `"auto"` (every GPU of the best kind present, one per
 * worker, spread evenly; CPU when none), `"cpu"`, a fallback order of kinds (`["cuda", "cpu"]`,
 * the seed's `select_with_fallback`), or explicit ids (`["cuda:0", "cuda:1"]`, taken as given).
 */

import { SnakepitError } from "../errors.ts";
import { DEFAULT_PREFERENCE, type DeviceKind, type HardwareInfo } from "./types.ts";

/** The `devices` setting of a pool. */
export type DevicesSetting = "auto" | "cpu" | readonly string[];

const KINDS = new Set<string>(DEFAULT_PREFERENCE);
const isKind = (s: string): s is DeviceKind => KINDS.has(s);

/** True when resolving `setting` needs hardware detection. */
export function needsDetection(setting: DevicesSetting): boolean {
  return setting === "auto" || (Array.isArray(setting) && setting[0] === "auto") || (Array.isArray(setting) && setting.some((d) => isKind(d) && d !== "cpu"));
}

/** The first kind of `preference` present on this host, with its device ids. */
export function selectWithFallback(preference: readonly DeviceKind[], hw: HardwareInfo | undefined): { kind: DeviceKind; devices: string[] } | undefined {
  for (const kind of preference) {
    if (kind === "cpu") return { kind, devices: ["cpu"] };
    const found = hw?.[kind];
    if (found?.available && found.devices.length) return { kind, devices: found.devices.map((d) => d.id) };
  }
  return undefined;
}

/** Turn a pool's `devices` setting into the list of device ids its workers share. */
export function resolveDevices(setting: DevicesSetting, hw: HardwareInfo | undefined, pool = "default"): string[] {
  if (setting === "cpu") return ["cpu"];
  // ["auto"] is what SNAKEPIT_DEVICES=auto parses to.
  const list = setting === "auto" || (setting.length === 1 && setting[0] === "auto") ? DEFAULT_PREFERENCE : setting;
  if (list.length === 0) return [];
  if (!list.every(isKind)) {
    const bare = list.filter(isKind).filter((k) => k !== "cpu" && k !== "mps");
    if (bare.length) {
      throw new SnakepitError("config_invalid", `Pool "${pool}": devices mixes kinds (${bare.join(", ")}) with device ids; list kinds alone (a fallback order) or ids alone`, { details: { field: "devices" } });
    }
    return [...list];
  }
  const chosen = selectWithFallback(list, hw);
  if (chosen) return chosen.devices;
  const why = list.map((k) => `${k}: ${hw?.[k as Exclude<DeviceKind, "cpu">]?.reason ?? "not detected"}`).join("; ");
  throw new SnakepitError("config_invalid", `Pool "${pool}": none of the devices ${list.join(", ")} is available (${why}); add "cpu" to fall back`, {
    details: { field: "devices" },
  });
}

/**
 * Environment for a worker on `device`: SNAKEPIT_DEVICE (the host's name for it), SNAKEPIT_LOCAL_DEVICE
 * (the name inside the worker, where only that GPU is visible) and the vendor's visibility variable.
 * A CPU worker sees no GPU at all.
 */
export function deviceEnv(device: string | undefined): Record<string, string> {
  if (!device) return {};
  const m = /^(cuda|rocm):(\d+)$/.exec(device);
  if (m?.[1] === "cuda") return { SNAKEPIT_DEVICE: device, SNAKEPIT_LOCAL_DEVICE: "cuda:0", CUDA_VISIBLE_DEVICES: m[2]! };
  // PyTorch's ROCm build names AMD GPUs "cuda"; ROCR_VISIBLE_DEVICES is left alone (it would filter twice).
  if (m?.[1] === "rocm") return { SNAKEPIT_DEVICE: device, SNAKEPIT_LOCAL_DEVICE: "cuda:0", HIP_VISIBLE_DEVICES: m[2]! };
  if (device === "cpu") return { SNAKEPIT_DEVICE: "cpu", SNAKEPIT_LOCAL_DEVICE: "cpu", CUDA_VISIBLE_DEVICES: "", HIP_VISIBLE_DEVICES: "" };
  return { SNAKEPIT_DEVICE: device, SNAKEPIT_LOCAL_DEVICE: device };
}

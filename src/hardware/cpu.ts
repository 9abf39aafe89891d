/** CPU model, cores, features and memory: from /proc on Linux, from `node:os` elsewhere. */

import { readFileSync } from "node:fs";
import { cpus, freemem, totalmem } from "node:os";
import type { CpuInfo } from "./types.ts";

/** Extensions worth reporting for inference (the rest of /proc/cpuinfo's flags is noise here). */
const FEATURES = [
  "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
  "avx_vnni", "amx_tile", "amx_bf16", "neon", "asimd", "asimdhp", "sve", "sve2",
];

/** Parse /proc/cpuinfo text: model, logical and physical counts, notable flags. */
export function parseCpuinfo(text: string): { model: string; threads: number; cores: number; features: string[] } {
  const blocks = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  const field = (block: string, name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(block)?.[1]?.trim();
  const first = blocks[0] ?? "";
  const model = field(first, "model name") ?? field(first, "Hardware") ?? field(first, "cpu model") ?? field(text, "Model") ?? "unknown";
  const physical = new Set<string>();
  for (const b of blocks) {
    const core = field(b, "core id");
    if (core !== undefined) physical.add(`${field(b, "physical id") ?? "0"}/${core}`);
  }
  const flags = new Set((field(first, "flags") ?? field(first, "Features") ?? "").split(/\s+/));
  if (flags.has("asimd")) flags.add("neon");
  return {
    model,
    threads: blocks.length,
    cores: physical.size || blocks.length,
    features: FEATURES.filter((f) => flags.has(f)),
  };
}

/** Parse /proc/meminfo text: total and available memory in MiB. */
export function parseMeminfo(text: string): { totalMb: number; availableMb: number } | undefined {
  const kb = (name: string) => {
    const m = new RegExp(`^${name}:\\s*(\\d+)\\s*kB`, "m").exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const total = kb("MemTotal");
  if (total === undefined) return undefined;
  return { totalMb: Math.floor(total / 1024), availableMb: Math.floor((kb("MemAvailable") ?? kb("MemFree") ?? 0) / 1024) };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Detect the CPU and memory of this host. */
export function detectCpu(): CpuInfo {
  const list = cpus();
  const info = read("/proc/cpuinfo");
  const parsed = info ? parseCpuinfo(info) : undefined;
  const mem = (() => {
    const text = read("/proc/meminfo");
    return text ? parseMeminfo(text) : undefined;
  })();
  const threads = parsed?.threads || list.length || 1;
  return {
    model: parsed && parsed.model !== "unknown" ? parsed.model : list[0]?.model?.trim() || "unknown",
    cores: parsed?.cores || threads,
    threads,
    features: parsed?.features ?? (process.arch === "arm64" ? ["neon"] : []),
    memoryTotalMb: mem?.totalMb ?? Math.floor(totalmem() / 1048576),
    memoryAvailableMb: mem?.availableMb ?? Math.floor(freemem() / 1048576),
  };
}

/** AMD GPUs through `rocm-smi --showmeminfo vram --showuse --showproductname --json`. */

import { runTool } from "./tool.ts";
import type { GpuDevice, VendorInfo } from "./types.ts";

export const ROCM_ARGS = ["--showmeminfo", "vram", "--showuse", "--showproductname", "--json"];

const num = (v: unknown): number | null => {
  const n = Number(typeof v === "string" ? v.replace(/%$/, "") : v);
  return v === undefined || v === null || v === "" || Number.isNaN(n) ? null : n;
};

/** Parse rocm-smi's JSON: `{"card0": {"GPU use (%)": "3", "VRAM Total Memory (B)": "...", ...}}`. */
export function parseRocmJson(text: string): GpuDevice[] {
  const start = text.indexOf("{"); // older releases print warnings before the JSON
  if (start < 0) throw new Error("rocm-smi printed no JSON");
  const data = JSON.parse(text.slice(start)) as Record<string, Record<string, unknown>>;
  const devices: GpuDevice[] = [];
  for (const [card, fields] of Object.entries(data)) {
    const m = /^card(\d+)$/.exec(card);
    if (!m || typeof fields !== "object" || fields === null) continue;
    const get = (re: RegExp) => Object.entries(fields).find(([k]) => re.test(k))?.[1];
    const index = Number(m[1]);
    const total = num(get(/^VRAM Total Memory \(B\)$/i)) ?? 0;
    const used = num(get(/^VRAM Total Used Memory \(B\)$/i)) ?? 0;
    const name = [get(/^Card (series|Series)$/), get(/^Card model$/i)].find((v) => typeof v === "string" && v.trim()) as string | undefined;
    devices.push({
      id: `rocm:${index}`, kind: "rocm", index, name: name?.trim() ?? `AMD GPU ${index}`,
      memoryTotalMb: Math.round(total / 1048576), memoryUsedMb: Math.round(used / 1048576),
      utilizationPct: num(get(/^GPU use \(%\)$/i)),
    });
  }
  return devices.sort((a, b) => a.index - b.index);
}

/** Query rocm-smi; never throws. */
export async function detectRocm(env: Record<string, string>): Promise<VendorInfo> {
  const out = await runTool("rocm-smi", ROCM_ARGS, env);
  if (!out.ok) return { available: false, devices: [], reason: out.reason };
  try {
    const devices = parseRocmJson(out.stdout);
    if (devices.length === 0) return { available: false, devices, reason: "rocm-smi listed no GPUs" };
    return { available: true, devices };
  } catch (err) {
    return { available: false, devices: [], reason: `rocm-smi output not understood: ${(err as Error).message}` };
  }
}

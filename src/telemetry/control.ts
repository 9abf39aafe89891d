/**
 * Runtime control of Python telemetry (the seed's Telemetry.Control): on/off, a sampling rate,
 * per-pattern rates, allow and deny globs (deny wins). Sent to workers; also applied on the host
 * to the Python events it derives itself.
 */

import { z } from "zod";

export const TelemetryControlSchema = z.object({
  enabled: z.boolean().default(true),
  samplingRate: z.number().min(0).max(1).default(1),
  allow: z.array(z.string()).default([]).describe("Globs; when set, only matching names pass"),
  deny: z.array(z.string()).default([]).describe("Globs; matching names never pass"),
  sampling: z.record(z.string(), z.number().min(0).max(1)).default({}).describe("Glob -> sampling rate"),
}).strict();
export type TelemetryControl = z.output<typeof TelemetryControlSchema>;
export type TelemetryControlInput = z.input<typeof TelemetryControlSchema>;

function globToRegExp(glob: string): RegExp {
  const body = glob.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${body}$`);
}

/** A predicate that says whether one event named `name` passes (sampling is random). */
export function compileControl(control: TelemetryControl, random: () => number = Math.random): (name: string) => boolean {
  const allow = control.allow.map(globToRegExp);
  const deny = control.deny.map(globToRegExp);
  const rates = Object.entries(control.sampling).map(([g, r]) => [globToRegExp(g), r] as const);
  return (name) => {
    if (!control.enabled) return false;
    if (deny.some((re) => re.test(name))) return false;
    if (allow.length && !allow.some((re) => re.test(name))) return false;
    const rate = rates.find(([re]) => re.test(name))?.[1] ?? control.samplingRate;
    return rate >= 1 || random() < rate;
  };
}

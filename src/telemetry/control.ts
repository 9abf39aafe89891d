/**
 * Runtime control of Python telemetry (the seed's Telemetry.Control): on/off, a sampling rate,
 * per-pattern rates, allow and deny globs (deny wins). Sent to workers; also applied on the host
 * to the Python events it derives itself.
 */

import { z } from "zod";
import { globMatcher } from "./glob.ts";

export const TelemetryControlSchema = z.object({
  enabled: z.boolean().default(true),
  samplingRate: z.number().min(0).max(1).default(1),
  allow: z.array(z.string().max(200)).max(64).default([]).describe("Globs; when set, only matching names pass"),
  deny: z.array(z.string().max(200)).max(64).default([]).describe("Globs; matching names never pass"),
  sampling: z.record(z.string().max(200), z.number().min(0).max(1)).default({}).describe("Glob -> sampling rate"),
}).strict();
export type TelemetryControl = z.output<typeof TelemetryControlSchema>;
export type TelemetryControlInput = z.input<typeof TelemetryControlSchema>;


/** A predicate that says whether one event named `name` passes (sampling is random). */
export function compileControl(control: TelemetryControl, random: () => number = Math.random): (name: string) => boolean {
  const allow = control.allow.map(globMatcher);
  const deny = control.deny.map(globMatcher);
  const rates = Object.entries(control.sampling).map(([g, r]) => [globMatcher(g), r] as const);
  return (name) => {
    if (!control.enabled) return false;
    if (deny.some((m) => m(name))) return false;
    if (allow.length && !allow.some((m) => m(name))) return false;
    const rate = rates.find(([m]) => m(name))?.[1] ?? control.samplingRate;
    return rate >= 1 || random() < rate;
  };
}

/** The one hook the pool calls at spawn: device visibility and thread limits for a worker. */

import { deviceEnv } from "./assign.ts";
import { threadEnv, type ThreadSettings } from "./threads.ts";

/** A pool config as far as the worker environment goes. */
export interface WorkerEnvSettings extends ThreadSettings {
  devices: "auto" | "cpu" | readonly string[];
}

/** Device ids of a pool whose `devices` was resolved at start (`"cpu"` needs no detection). */
export function deviceList(c: Pick<WorkerEnvSettings, "devices">): readonly string[] {
  if (c.devices === "cpu") return ["cpu"];
  return Array.isArray(c.devices) ? c.devices : [];
}

/** Variables a worker on `device` gets on top of the pool's `env`. */
export function workerEnv(c: WorkerEnvSettings, device: string | undefined): Record<string, string> {
  return { ...threadEnv(c), ...deviceEnv(device) };
}

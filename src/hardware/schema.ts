/** The zod shape of `HardwareInfo`, for the OpenAPI document of `GET /v1/hardware`. */

import { z } from "zod";

const Kind = z.enum(["cuda", "rocm", "mps", "cpu"]);

const Gpu = z.object({
  id: z.string().describe("`cuda:0`, `rocm:1`, `mps`"),
  kind: Kind,
  index: z.number().int(),
  name: z.string(),
  memoryTotalMb: z.number(),
  memoryUsedMb: z.number(),
  utilizationPct: z.number().nullable(),
});

const Vendor = z.object({
  available: z.boolean(),
  devices: z.array(Gpu),
  reason: z.string().optional().describe("Why nothing was found"),
  driverVersion: z.string().optional(),
  version: z.string().optional().describe("CUDA or ROCm version"),
});

/** `Snakepit.hardware()` as JSON. */
export const HardwareInfoSchema = z.object({
  platform: z.string(),
  accelerator: Kind,
  cpu: z.object({
    model: z.string(), cores: z.number().int(), threads: z.number().int(), features: z.array(z.string()),
    memoryTotalMb: z.number(), memoryAvailableMb: z.number(),
  }),
  cuda: Vendor,
  rocm: Vendor,
  mps: Vendor,
  gpus: z.array(Gpu),
  detectedAt: z.string(),
  durationMs: z.number(),
});

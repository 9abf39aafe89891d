/**
 * On a real GPU machine: detect the hardware, start a pool with `devices = "auto"` and two workers
 * per GPU, and check that each worker sees exactly its GPU. Prints one line per check and exits 1
 * when one fails.
 *
 *   bun scripts/gpu-check.ts [--python /path/to/python3]
 */

import { join } from "node:path";
import { Snakepit } from "../src/snakepit.ts";

const argv = process.argv.slice(2);
const python = argv.includes("--python") ? argv[argv.indexOf("--python") + 1] : undefined;
let failed = 0;
const line = (ok: boolean, text: string) => {
  if (!ok) failed++;
  console.log(`${ok ? "✓" : "✗"} ${text}`);
};

const hw = await Snakepit.hardware({ refresh: true });
line(true, `cpu: ${hw.cpu.model}, ${hw.cpu.cores} cores / ${hw.cpu.threads} threads, ${hw.cpu.memoryTotalMb} MiB`);
for (const [kind, v] of [["cuda", hw.cuda], ["rocm", hw.rocm], ["mps", hw.mps]] as const) {
  line(true, `${kind}: ${v.available ? v.devices.map((d) => `${d.id} ${d.name} ${d.memoryUsedMb}/${d.memoryTotalMb} MiB`).join(", ") + (v.version ? ` (version ${v.version})` : "") : `none (${v.reason})`}`);
}
line(hw.gpus.length > 0, `accelerator: ${hw.accelerator}, ${hw.gpus.length} GPU(s)`);
const ids = hw.gpus.filter((g) => g.kind !== "mps").map((g) => g.id);
const workers = Math.max(2, ids.length * 2);
const adapter = join(import.meta.dir, "../test/fixtures/device_probe.py");
await using pit = await Snakepit.start({ adapter, poolSize: workers, startupBatchSize: workers, devices: "auto", ...(python ? { python } : {}) });
const given = pit.listWorkers().map((w) => w.device ?? "");
const expected = ids.length ? Array.from({ length: workers }, (_, i) => ids[i % ids.length]!) : Array(workers).fill(hw.accelerator === "mps" ? "mps" : "cpu");
line(JSON.stringify(given) === JSON.stringify(expected), `assignment of ${workers} workers: ${given.join(",")} (expected ${expected.join(",")})`);
const seen = new Map<string, { env: Record<string, string | null> }>();
for (let i = 0; i < workers * 20 && seen.size < new Set(given).size; i++) {
  const r = await pit.execute<{ device: string; env: Record<string, string | null> }>("where", {});
  seen.set(r.device, r);
}
for (const [device, r] of seen) {
  const m = /^(cuda|rocm):(\d+)$/.exec(device);
  const variable = m?.[1] === "rocm" ? "HIP_VISIBLE_DEVICES" : "CUDA_VISIBLE_DEVICES";
  line(!m || r.env[variable] === m[2], `worker on ${device}: ${variable}=${r.env[variable] ?? "(unset)"}, OMP_NUM_THREADS=${r.env.OMP_NUM_THREADS}`);
}
await pit.close();
console.log(failed ? `${failed} check(s) failed` : "all checks passed");
process.exit(failed ? 1 : 0);

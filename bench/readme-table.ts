/** Rewrite the README's performance table from bench/results/latest-*.json ("median (range)"). */

import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Figure } from "./stats.ts";

const root = new URL("..", import.meta.url).pathname;
const read = (name: string) => {
  const path = `${root}bench/results/latest-${name}.json`;
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : undefined;
};

const ROWS: Array<[row: string, label: string, unit: string, scale?: number]> = [
  ["p50Us", "small call, p50", "µs"],
  ["throughput", "throughput, 64 in flight (2 workers / 2 pipes)", "k/s", 1000],
  ["streamRate", "stream of 100 k small chunks", "k chunks/s", 1000],
  ["streamFirstMs", "stream, first chunk", "ms"],
  ["bytesMiBps", "16 MiB bytes round trip", "MiB/s"],
  ["f32MiBps", "16 MiB float32 numpy round trip", "MiB/s"],
  ["arrowMiBps", "16 MiB Arrow IPC table round trip (uvicorn: the same bytes as octet-stream)", "MiB/s"],
  ["start1Ms", "start 1 worker + call", "ms"],
  ["start8Ms", "start 8 workers + call", "ms"],
  ["hostCallUs", "call making one Python → host tool call, p50", "µs"],
  ["http16ReqPerSec", "HTTP, 16 connections (2 workers)", "k req/s", 1000],
  ["http16P99Ms", "HTTP, 16 connections, p99", "ms"],
  ["http64ReqPerSec", "HTTP, 64 connections (2 workers)", "k req/s", 1000],
  ["http64P99Ms", "HTTP, 64 connections, p99", "ms"],
];
// A column shows only if the results have figures for it ("snakepitPreload": results from before
// forking became the default start mode).
const ALL_COLUMNS: Array<[string, string]> = [["snakepit", "snakepit"], ["snakepitSpawn", "snakepit, spawned"], ["snakepitPreload", "snakepit, preload"], ["snakepitPipe", "snakepit, bulk via pipe"], ["raw", "raw pipe (flush each)"], ["rawBuffered", "raw pipe (buffered)"], ["rawBatched", "raw pipe (batched)"], ["pythonShell", "python-shell (Node)"], ["fastapi", "FastAPI + uvicorn"]];

function cell(f: Figure | undefined, scale = 1): string {
  if (!f) return "—";
  const fmt = (x: number) => {
    const v = x / scale;
    return v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  };
  return `${fmt(f.median)} (${fmt(f.min)}–${fmt(f.max)})`;
}

export function benchTable(): string {
  const cmp = read("compare");
  const startup = read("startup");
  const telemetry = read("telemetry");
  const figures = Object.values((cmp?.figures ?? {}) as Record<string, Record<string, Figure>>);
  const COLUMNS = ALL_COLUMNS.filter(([who]) => figures.some((f) => f[who]));
  const lines = [
    "<!-- bench:start (written by `bun run bench`) -->",
    `Each cell: median (range) of ${cmp?.sizes.rounds ?? "?"} alternating rounds, ${cmp?.date.slice(0, 10) ?? "never"}, ${cmp?.python ?? ""}, ${cmp?.machine ?? ""}.`,
    "",
    `| work | ${COLUMNS.map(([, label]) => label).join(" | ")} |`,
    `|---|${COLUMNS.map(() => "---").join("|")}|`,
  ];
  for (const [row, label, unit, scale] of ROWS) {
    const byWho = cmp?.figures[row] as Record<string, Figure> | undefined;
    if (!byWho) continue;
    lines.push(`| ${label} (${unit}) | ${COLUMNS.map(([who]) => cell(byWho[who], scale)).join(" | ")} |`);
  }
  const rest = " |".repeat(COLUMNS.length - 1);
  if (telemetry) lines.push(`| 64 in flight, 2 workers, telemetry all on vs off | ${Math.round(telemetry.throughput.onMedian / 1000)} k vs ${Math.round(telemetry.throughput.offMedian / 1000)} k calls/s (${telemetry.ratio.toFixed(2)}×) |${rest}`);
  if (startup) lines.push(`| binary launch → first HTTP call (ms) | ${Math.round(startup.launchToFirstCallMs.warmCacheMedian)} (${Math.round(Math.min(...startup.launchToFirstCallMs.warm))}–${Math.round(Math.max(...startup.launchToFirstCallMs.warm))}) |${rest}`);
  const preload = read("preload");
  if (preload) {
    const f = (k: string) => preload.figures[k] as Figure;
    const r = (k: string, unit: string, scale = 1) => `${Math.round(f(k).median / scale)} ${unit} (${Math.round(f(k).min / scale)}–${Math.round(f(k).max / scale)})`;
    lines.push(
      "",
      `Torch workers (\`bench/preload.ts\`, ${preload.rounds} rounds, ${preload.date.slice(0, 10)}; \`setup()\` imports torch and builds an MLP): ` +
        `1 worker ready + call: spawned ${r("spawn.start1Ms", "ms")}, preloaded ${r("preload.start1Ms", "ms")}; ` +
        `8 workers: spawned ${r("spawn.start8Ms", "ms")}, preloaded ${r("preload.start8Ms", "ms")}; ` +
        `a killed worker answering again: spawned ${r("spawn.replaceMs", "ms")}, preloaded ${r("preload.replaceMs", "ms")}; ` +
        `PSS of 8 workers: spawned ${r("spawn.pss8Kb", "MB", 1000)}, preloaded ${r("preload.pss8Kb", "MB", 1000)} (${r("preload.pss8WithTemplateKb", "MB", 1000)} with the template and its keeper; one spawned worker ${r("spawn.pss1Kb", "MB", 1000)}).`,
    );
  }
  const memory = read("memory");
  if (memory) lines.push("", memoryLine(memory));
  if (cmp) {
    const before = previousCompare(cmp.date as string);
    const earlier = new Map((before?.targets ?? []).map((t: Target) => [t.target, t]));
    lines.push("", before
      ? `Targets (issue #12), on these medians; a target counts as met only if the run before (\`${before.file}\`) met it too:`
      : "Targets (issue #12), on these medians:", "");
    const all: Target[] = [...cmp.targets, ...(preload?.targets ?? []), ...(memory?.targets ?? [])];
    for (const t of all) {
      const prev = earlier.get(t.target) as Target | undefined;
      const status = !t.met ? "**not met**" : prev && !prev.met ? "**not reproduced**" : "met";
      const again = prev ? `; run before: ${show(prev)}` : "";
      lines.push(`- ${status}: ${t.target} (${show(t)}${again})`);
    }
  }
  lines.push("<!-- bench:end -->");
  return lines.join("\n");
}

interface Target {
  target: string;
  value: string | number;
  met: boolean;
}

const show = (t: Target) => `${t.value}${typeof t.value === "number" && !t.target.includes("ms") ? "×" : typeof t.value === "number" ? " ms" : ""}`;

/** The full compare run saved before the one dated `date` (smoke and rejected runs left out). */
function previousCompare(date: string): { file: string; targets: Target[] } | undefined {
  const dir = `${root}bench/results/`;
  const stamp = date.slice(0, 19).replace(/[T:]/g, "-");
  const file = readdirSync(dir).filter((f) => /^\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-compare\.json$/.test(f) && f.slice(0, 19) < stamp).sort().pop();
  return file ? { file: `bench/results/${file}`, targets: JSON.parse(readFileSync(dir + file, "utf8")).targets ?? [] } : undefined;
}

/** The memory sentence (bench/memory.ts), in MB: "median (min–max)". */
function memoryLine(memory: { rounds: number; date: string; figures: Record<string, Figure> }): string {
  const mb = (k: string) => {
    const f = memory.figures[k];
    return f ? `${f.median.toFixed(1)} MB (${f.min.toFixed(1)}–${f.max.toFixed(1)})` : "—";
  };
  return `Memory (\`bench/memory.ts\`, ${memory.rounds} rounds, ${memory.date.slice(0, 10)}; a fresh host importing the module API per round, pool of 8, RSS after a full GC): ` +
    `idle worker RSS ${mb("workerIdleRssMB")}, PSS ${mb("workerIdlePssMB")}; host RSS before start ${mb("hostBeforeMB")}, with 8 idle workers ${mb("hostIdle8MB")}, after 20 k calls ${mb("hostAfterCallsMB")}.`;
}

export function updateReadme(): void {
  const path = `${root}README.md`;
  const text = readFileSync(path, "utf8");
  if (!text.includes("<!-- bench:start")) throw new Error("README.md has no bench markers");
  writeFileSync(path, text.replace(/<!-- bench:start[\s\S]*?<!-- bench:end -->/, benchTable()));
}

if (import.meta.main) updateReadme();

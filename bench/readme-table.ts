/** Rewrite the README's performance table from bench/results/latest-*.json. */

import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const read = (name: string) => JSON.parse(readFileSync(`${root}bench/results/latest-${name}.json`, "utf8"));

export function updateReadme(): void {
  const core = read("core");
  const startup = read("startup");
  const telemetry = read("telemetry");
  const k = (x: number) => `${Math.round(x / 1000)} k calls/s`;
  const table = [
    "<!-- bench:start (written by `bun run bench`) -->",
    "| | raw pipe | snakepit | ratio |",
    "|---|---|---|---|",
    `| sequential small call, p50 | ${Math.round(core.raw.pipe1.latency.p50Us)} µs | ${Math.round(core.snakepit.pool1.latency.p50Us)} µs | ${core.ratios.p50VsRaw.toFixed(2)}× |`,
    `| 64 in flight, 2 workers | ${k(core.raw.pipe2.throughput)} | ${k(core.snakepit.pool2.throughput)} | ${core.ratios.throughput2VsRaw2.toFixed(2)}× |`,
    `| Python → host tool round trip, p50 | ${Math.round(core.raw.pipe1.latency.p50Us)} µs | ${Math.round(core.snakepit.pool1.hostCall.p50Us - core.snakepit.pool1.latency.p50Us)} µs | ${core.ratios.hostRoundTripVsRaw.toFixed(2)}× |`,
    `| 64 in flight, 2 workers, telemetry all on vs off | | ${k(telemetry.throughput.onMedian)} vs ${k(telemetry.throughput.offMedian)} | ${telemetry.ratio.toFixed(2)}× |`,
    `| binary launch to first HTTP call | | ${Math.round(startup.launchToFirstCallMs.warmCacheMedian)} ms | |`,
    "<!-- bench:end -->",
  ].join("\n");
  const path = `${root}README.md`;
  const text = readFileSync(path, "utf8");
  const next = text.replace(/<!-- bench:start[\s\S]*?<!-- bench:end -->/, table);
  if (next === text && !text.includes("<!-- bench:start")) throw new Error("README.md has no bench markers");
  writeFileSync(path, next);
}

if (import.meta.main) updateReadme();

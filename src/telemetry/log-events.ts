/** Which events become log records, at which level and in which category. */

import type { EventBus } from "./bus.ts";
import type { Logger } from "./logger.ts";

const PY_LEVEL = /^(DEBUG|INFO|WARNING|ERROR|CRITICAL) /;

/** Turn pool, worker and telemetry events into structured log records. */
export function wireLogs(bus: EventBus, log: Logger): void {
  bus.on("worker.log", (e) => {
    const level = PY_LEVEL.exec(e.line)?.[1];
    const lvl = level === "ERROR" || level === "CRITICAL" ? "error" : level === "WARNING" ? "warning" : level === "DEBUG" ? "debug" : "info";
    log.log(lvl, "worker", e.line, { pool: e.pool, worker: e.worker });
  });
  bus.on("worker.started", (e) => log.log("info", "startup", `worker ${e.worker} ready`, { ...e }));
  bus.on("worker.exited", (e) => {
    if (e.expected) log.log("info", "shutdown", `worker ${e.worker} stopped`, { pool: e.pool, worker: e.worker, pid: e.pid });
    else log.log("error", "worker", `worker ${e.worker} (pid ${e.pid}) crashed: ${e.crash?.kind ?? "exit"}`, { ...e });
  });
  bus.on("worker.restart_failed", (e) => log.log("warning", "lifecycle", `a replacement worker failed to start: ${e.error}`, { ...e }));
  bus.on("worker.recycled", (e) => log.log("info", "lifecycle", `worker ${e.worker} recycled (${e.reason})`, { ...e }));
  bus.on("pool.restart_storm", (e) => log.log("warning", "pool", `crash storm: ${e.restarts} restarts in ${e.windowMs} ms; pausing ${e.pauseMs} ms`, { ...e }));
  bus.on("pool.health", (e) => log.log(e.healthy ? "info" : "warning", "pool", `pool ${e.pool} is ${e.healthy ? "healthy" : "unhealthy"}`, { ...e }));
  bus.on("circuit.state", (e) => log.log(e.to === "open" ? "warning" : "info", "pool", `circuit ${e.pool}: ${e.from} -> ${e.to}`, { ...e }));
  bus.on("session.limit_warning", (e) => log.log("warning", "general", `${e.sessions} of ${e.maxSessions} sessions in use`, { ...e }));
  bus.on("python.dropped", (e) => log.log("warning", "telemetry", `worker ${e.worker} dropped ${e.dropped} telemetry events (queue full)`, { ...e }));
  bus.on("pool.ready", (e) => log.log("info", "startup", `pool ${e.pool} ready with ${e.workers} workers`, { ...e }));
  bus.on("pool.thread_safety", (e) => log.log("warning", "startup", `pool ${e.pool}: the adapter imports ${e.library}, which is not thread-safe under the thread profile: ${e.notes}`, { ...e }));
  bus.on("pool.spawn_fallback", (e) => log.log("warning", "startup", `pool ${e.pool}: workers are spawned, not forked from a template: ${e.reason}`, { ...e }));
  bus.on("pool.closed", (e) => log.log("info", "shutdown", `pool ${e.pool} closed`, { ...e }));
}

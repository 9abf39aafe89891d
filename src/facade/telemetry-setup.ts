/**
 * Telemetry of one Snakepit, wired at start: logs, metrics, the telemetry API, and the per-call
 * Python events derived from replies.
 */

import { SnakepitError } from "../errors.ts";
import type { TelemetryOptions } from "../config/parse.ts";
import type { Pool } from "../pool/pool.ts";
import { createTelemetryApi, type TelemetryApi } from "../telemetry/api.ts";
import type { EventBus } from "../telemetry/bus.ts";
import { compileControl, type TelemetryControl, TelemetryControlSchema } from "../telemetry/control.ts";
import { wireLogs } from "../telemetry/log-events.ts";
import { LogConfigSchema, Logger, type LogSink } from "../telemetry/logger.ts";
import { createMetrics } from "../telemetry/metrics.ts";
import { registerGpuGauges } from "../hardware/gpu-metrics.ts";
import { registerShmGauges } from "../bridge/shm-metrics.ts";

/** What telemetry reads from the Snakepit. */
export interface TelemetryHost {
  bus: EventBus;
  pools(): ReadonlyMap<string, Pool>;
  /** A pool by name (throws for an unknown one). */
  pool(name: string): Pool;
  sessions(): number;
}

/** The wired parts. */
export interface Telemetry {
  logger: Logger;
  api: TelemetryApi;
  /** The control workers start with, when the options set one. */
  initialControl: TelemetryControl | undefined;
}

export function setUpTelemetry(options: TelemetryOptions, logSink: LogSink | undefined, host: TelemetryHost): Telemetry {
  const log = LogConfigSchema.safeParse(options.log ?? {});
  const control = TelemetryControlSchema.safeParse(options.control ?? {});
  if (!log.success || !control.success) {
    const issue = (!log.success ? log.error : control.success ? undefined : control.error)!.issues[0]!;
    throw new SnakepitError("config_invalid", `Invalid configuration: telemetry.${log.success ? "control" : "log"}.${issue.path.join(".")}: ${issue.message}`);
  }
  const logger = new Logger(log.data, logSink);
  wireLogs(host.bus, logger);
  const registry = options.metrics === false ? undefined : createMetrics(host.bus, {
    pools: () => [...host.pools().values()].map((p) => ({
      name: p.name,
      workers: [...p.workers],
      stats: { ...p.stats, queued: p.snapshot().queued },
      circuit: p.guard.breaker.state,
      knownTools: new Set(p.tools.map((x) => x.name)),
    })),
    sessions: host.sessions,
  });
  if (registry) registerGpuGauges(registry, host.bus);
  if (registry) registerShmGauges(registry);
  const api = createTelemetryApi({
    bus: host.bus,
    registry,
    configure: async (c, target) => {
      const pools = target.pool ? [host.pool(target.pool)] : [...host.pools().values()];
      await Promise.all(pools.map((p) => p.configureTelemetry(c, target.worker)));
    },
  });
  deriveCallEvents(host);
  return { logger, api, initialControl: options.control ? control.data : undefined };
}

/**
 * The built-in per-call Python events (python.call.stop / python.call.exception) are derived
 * from each reply (which carries the time spent in the tool), so they cost Python nothing. The
 * pool's telemetry control (allow, deny, sampling) applies to them as in Python.
 */
function deriveCallEvents(host: TelemetryHost): void {
  const { bus } = host;
  const filters = new Map<TelemetryControl, (name: string) => boolean>();
  const passes = (pool: string, name: string) => {
    const control = host.pools().get(pool)?.telemetryControl;
    if (!control) return true;
    let f = filters.get(control);
    if (!f) filters.set(control, (f = compileControl(control)));
    return f(name);
  };
  bus.on("call.stop", (e) => {
    if (e.pythonMs <= 0 || !bus.has("python.event") || !passes(e.pool, "python.call.stop")) return;
    bus.emit("python.event", {
      pool: e.pool, worker: e.worker, name: "python.call.stop", measurements: { duration_us: Math.round(e.pythonMs * 1000) },
      metadata: { tool: e.tool }, timestampUs: Date.now() * 1000, correlationId: e.correlationId,
    });
  });
  bus.on("call.exception", (e) => {
    if (!e.pythonType || !bus.has("python.event") || !passes(e.pool, "python.call.exception")) return;
    bus.emit("python.event", {
      pool: e.pool, worker: e.worker ?? "", name: "python.call.exception", measurements: { duration_us: Math.round(e.durationMs * 1000) },
      metadata: { tool: e.tool, type: e.pythonType }, timestampUs: Date.now() * 1000, correlationId: e.correlationId,
    });
  });
}

/**
 * Prometheus metrics (prom-client, a registry of our own): calls by tool and outcome, latency and
 * queue-wait histograms, workers by state, restarts, crashes, recycles, sessions, breaker state,
 * Python events and drops. Counters follow events; gauges are read at scrape time.
 */

import { Counter, Gauge, Registry } from "prom-client";
import { FastCounter, FastHistogram, type HistogramSeries } from "./fast-metrics.ts";
import type { EventBus } from "./bus.ts";

/** What the metrics read at scrape time. */
export interface MetricsSource {
  pools(): Array<{
    name: string;
    workers: Array<{ state: string }>;
    stats: { crashes: number; restarts: number; recycles: number; queued: number };
    circuit: string;
    knownTools: ReadonlySet<string>;
  }>;
  sessions(): number;
}

const CIRCUIT = { closed: 0, half_open: 1, open: 2 } as Record<string, number>;
const MAX_EVENT_NAMES = 500;

/** Build the registry and subscribe it to the bus. */
export function createMetrics(bus: EventBus, source: MetricsSource): Registry {
  const registry = new Registry();
  const registers = [registry];
  const calls = new FastCounter(registry, "snakepit_calls_total", "Calls by pool, tool and outcome (ok or error code)");
  const latency = new FastHistogram(registry, "snakepit_call_duration_seconds", "Latency of successful calls, queue wait included",
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]);
  const queueWait = new FastHistogram(registry, "snakepit_queue_wait_seconds", "Time calls waited for a worker", [0, 0.0001, 0.001, 0.01, 0.1, 1, 10, 60]);
  const pyEvents = new FastCounter(registry, "snakepit_python_events_total", "Telemetry events received from Python");
  const pyDropped = new Counter({ name: "snakepit_python_events_dropped_total", help: "Python events dropped by a full worker queue", labelNames: ["pool"], registers });
  const perPool = (name: string, help: string, read: (p: ReturnType<MetricsSource["pools"]>[number]) => number, type: "counter" | "gauge" = "counter") =>
    new (type === "counter" ? Counter : Gauge)({
      name, help, labelNames: ["pool"], registers,
      collect(this: Counter | Gauge) {
        this.reset();
        for (const p of source.pools()) {
          if (this instanceof Gauge) this.set({ pool: p.name }, read(p));
          else this.inc({ pool: p.name }, read(p));
        }
      },
    });
  perPool("snakepit_worker_crashes_total", "Workers that died unasked", (p) => p.stats.crashes);
  perPool("snakepit_worker_restarts_total", "Workers started to replace crashed ones", (p) => p.stats.restarts);
  perPool("snakepit_worker_recycles_total", "Workers replaced on purpose (TTL, requests, memory, manual)", (p) => p.stats.recycles);
  perPool("snakepit_queue_length", "Calls waiting for a worker", (p) => p.stats.queued, "gauge");
  perPool("snakepit_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", (p) => CIRCUIT[p.circuit] ?? 0, "gauge");
  new Gauge({
    name: "snakepit_workers", help: "Workers by state", labelNames: ["pool", "state"], registers,
    collect() {
      this.reset();
      for (const p of source.pools()) {
        const counts: Record<string, number> = { starting: 0, ready: 0, draining: 0, stopping: 0 };
        for (const w of p.workers) counts[w.state] = (counts[w.state] ?? 0) + 1;
        for (const [state, n] of Object.entries(counts)) this.set({ pool: p.name, state }, n);
      }
    },
  });
  new Gauge({ name: "snakepit_sessions", help: "Live sessions", registers, collect() { this.set(source.sessions()); } });

  // Tool labels are bounded: a name the pool does not know (a typo, an attack) is "_unknown".
  const tools = new Map<string, ReadonlySet<string>>();
  const toolLabel = (pool: string, tool: string) => {
    let known = tools.get(pool);
    if (!known?.has(tool)) {
      known = source.pools().find((p) => p.name === pool)?.knownTools;
      if (known) tools.set(pool, known);
    }
    return known?.has(tool) ? tool : "_unknown";
  };
  const eventNames = new Set<string>();
  // Label children cached per pool and tool: the per-call cost is two lookups, no label hashing.
  const children = new Map<string, { ok: { value: number }; latency: HistogramSeries; queue: HistogramSeries }>();
  bus.on("call.stop", (e) => {
    const key = `${e.pool}\0${e.tool}`;
    let c = children.get(key);
    if (!c) {
      const tool = toolLabel(e.pool, e.tool);
      c = { ok: calls.series({ pool: e.pool, tool, outcome: "ok" }), latency: latency.series({ pool: e.pool, tool }), queue: queueWait.series({ pool: e.pool }) };
      if (tool !== "_unknown") children.set(key, c);
    }
    c.ok.value++;
    c.latency.observe(e.durationMs / 1000);
    c.queue.observe(e.queueMs / 1000);
  });
  bus.on("call.exception", (e) => calls.series({ pool: e.pool, tool: toolLabel(e.pool, e.tool), outcome: e.code }).value++);
  const eventChildren = new Map<string, { value: number }>();
  bus.on("python.event", (e) => {
    const key = `${e.pool}\0${e.name}`;
    let child = eventChildren.get(key);
    if (!child) {
      if (!eventNames.has(e.name) && eventNames.size < MAX_EVENT_NAMES) eventNames.add(e.name);
      child = pyEvents.series({ pool: e.pool, name: eventNames.has(e.name) ? e.name : "_other" });
      if (eventChildren.size < MAX_EVENT_NAMES * 4) eventChildren.set(key, child);
    }
    child.value++;
  });
  bus.on("python.dropped", (e) => pyDropped.inc({ pool: e.pool }, e.dropped));
  const clusterCalls = new FastCounter(registry, "snakepit_cluster_calls_total", "Calls made on this cluster node by the node that served them");
  bus.on("cluster.call", (e) => clusterCalls.series({ pool: e.pool, served_by: e.servedBy, outcome: e.outcome }).value++);
  return registry;
}

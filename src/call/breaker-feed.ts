/**
 * What the breaker hears from the supervisor: a worker that started closes it; a replacement that
 * failed to start, or a crash storm past the restart budget, counts against the adapter.
 */

import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import { type SupervisorSignal, supervisorVerdict } from "../resilience/outcome.ts";
import type { EventBus } from "../telemetry/bus.ts";

/** Feed `breaker` from `pool`'s supervisor events; returns the unsubscribe function. */
export function feedBreaker(breaker: CircuitBreaker, bus: EventBus, pool: string): () => void {
  const apply = (signal: SupervisorSignal) => {
    const verdict = supervisorVerdict(signal);
    if (verdict === "success") breaker.success();
    else if (verdict === "failure") breaker.failure();
  };
  const offs = [
    bus.on("worker.started", (e) => e.pool === pool && apply("worker_started")),
    bus.on("worker.restart_failed", (e) => e.pool === pool && apply("restart_failed")),
    bus.on("pool.restart_storm", (e) => e.pool === pool && apply("restart_storm")),
  ];
  return () => {
    for (const off of offs) off();
  };
}

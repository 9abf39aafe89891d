/**
 * What a call's outcome says about the adapter's health, for the circuit breaker and the retry
 * budget. Pure. The rule: a client never opens the breaker for everyone. Deadlines (the client
 * picks them), cancels, bad arguments, Python exceptions, a full queue and a crash of a worker that
 * was replaced say nothing against the adapter. Only "the adapter cannot be started" does, and the
 * supervisor reports that (failed replacements, crash storms past the restart budget), not calls.
 */

import type { SnakepitErrorCode } from "../errors.ts";

/** `failure`: counts against the adapter; `neutral`: proves nothing either way. */
export type BreakerVerdict = "failure" | "neutral";

/** Call outcomes that count against the adapter: the pool could not start a worker for it. */
const ADAPTER_FAILURES: ReadonlySet<SnakepitErrorCode> = new Set<SnakepitErrorCode>(["worker_spawn_failed"]);

/** How a failed call's code weighs on the breaker. */
export function breakerVerdict(code: SnakepitErrorCode): BreakerVerdict {
  return ADAPTER_FAILURES.has(code) ? "failure" : "neutral";
}

/** Codes that mean the pool is overloaded: retrying them adds load where there is none to spare. */
export const OVERLOAD_CODES: ReadonlySet<SnakepitErrorCode> = new Set<SnakepitErrorCode>(["pool_saturated", "queue_timeout"]);

/** True when the error says the pool is overloaded. */
export function isOverload(code: SnakepitErrorCode): boolean {
  return OVERLOAD_CODES.has(code);
}

/** Supervisor events, as the breaker reads them. */
export type SupervisorSignal = "worker_started" | "restart_failed" | "restart_storm";

/** How a supervisor event weighs on the breaker: a started worker closes it. */
export function supervisorVerdict(signal: SupervisorSignal): BreakerVerdict | "success" {
  return signal === "worker_started" ? "success" : "failure";
}

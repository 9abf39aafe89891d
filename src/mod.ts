/**
 * snakepit: supervised pools of Python workers as fast, typed tools for Bun and Deno.
 *
 * @example
 * ```ts
 * import { Snakepit } from "snakepit";
 * await using pit = await Snakepit.start({ adapter: "./examples/adapters/demo.py:DemoAdapter" });
 * await pit.execute("add", { a: 1, b: 2 });
 * ```
 * @module
 */

export { Snakepit, type CallOptions, type SnakepitStats, type StartHooks } from "./snakepit.ts";
export { SnakepitError, ERROR_CODES, PYTHON_ERROR_KINDS, type SnakepitErrorCode, type PythonErrorInfo, type PythonErrorKind } from "./errors.ts";
export { type SnakepitOptions, parseConfig } from "./config/parse.ts";
export { type PoolConfig, PoolConfigSchema } from "./config/schema.ts";
export { TIMEOUT_PROFILES, type TimeoutProfileName } from "./config/profiles.ts";
export { type NDArray, type DType, isNDArray } from "./bridge/codec.ts";
export { ArrowIPC, arrowIPC, loadArrow, type ArrowField, type ArrowSchema } from "./bridge/arrow.ts";
export { releaseShared } from "./bridge/release.ts";
export type { ShmStats } from "./bridge/shm-lifecycle.ts";
export type { SnakepitEvents, EventName } from "./telemetry/bus.ts";
export type { WorkerInfo, WorkerLink, WorkerState, WorkerHealth } from "./worker/link.ts";
export type { CpuInfo, DeviceKind, GpuDevice, HardwareInfo, VendorInfo } from "./hardware/types.ts";
export type { PoolStatsSnapshot } from "./pool/stats.ts";
export type { ToolSpec } from "./bridge/messages.ts";
export { PROTOCOL_VERSION } from "./bridge/messages.ts";

export { type HostToolDefinition, type HostToolContext } from "./tools/registry.ts";
export type { SessionHandle, RehydrateContext, ToolsApi, BatchCall, BatchResult } from "./snakepit.ts";
export type { AffinityMode } from "./session/affinity.ts";
export { AFFINITY_MODES } from "./session/affinity.ts";
export type { SessionStatsView } from "./session/sessions.ts";
export type { JsonValue } from "./session/store.ts";
export type { ClusterClient, ClusterSession, ConnectOptions } from "./cluster/client.ts";
export type { ClusterConfigInput } from "./config/cluster.ts";
export type { NodeView } from "./cluster/directory.ts";
export type { ClusterNode } from "./cluster/node.ts";
export type { RoutedCall } from "./cluster/router.ts";
export type { Session } from "./session/store.ts";
export type { TelemetryApi } from "./telemetry/api.ts";
export type { TelemetryControlInput } from "./telemetry/control.ts";
export type { LogRecord, LogSink } from "./telemetry/logger.ts";
export { withRetry, RetryPolicySchema, type RetryPolicy } from "./resilience/retry.ts";
export { CircuitBreaker, CircuitBreakerSchema, type CircuitState } from "./resilience/circuit-breaker.ts";
export { backoffMs } from "./resilience/backoff.ts";

/** The wire contract (generated from proto/): typed messages and the two services. */
export { BridgeService, HostService } from "./bridge/gen/snakepit/bridge/v1/bridge_pb.ts";
export { ControlService } from "./bridge/gen/snakepit/api/v1/control_pb.ts";
/** A Connect transport over one worker's pipe (around the pool: diagnostics, tools, tests). */
export { createWorkerTransport } from "./worker/worker-transport.ts";

// Internal (not semver): the worker implementations, for tools and tests.
export { LocalProcessWorker as _LocalProcessWorker } from "./worker/local-process-worker.ts";
export { InMemoryWorker as _InMemoryWorker } from "./worker/in-memory-worker.ts";

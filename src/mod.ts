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
export type { SnakepitEvents, EventName } from "./telemetry/bus.ts";
export type { WorkerInfo } from "./pool/pool.ts";
export type { PoolStatsSnapshot } from "./pool/stats.ts";
export type { ToolSpec } from "./worker/worker.ts";

// Internal (not semver): the bridge's channel and worker, for tools and tests.
export { Worker as _Worker } from "./worker/worker.ts";

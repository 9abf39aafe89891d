/** Error code -> HTTP status, complete by construction. */

import type { SnakepitErrorCode } from "../errors.ts";

export const HTTP_STATUS: Record<SnakepitErrorCode, number> = {
  config_invalid: 400,
  invalid_argument: 400,
  unauthenticated: 401,
  not_found: 404,
  tool_not_found: 404,
  session_not_found: 404,
  worker_busy: 409,
  session_worker_lost: 409,
  payload_too_large: 413,
  pool_saturated: 429,
  session_limit: 429,
  aborted: 499,
  internal: 500,
  python_exception: 500,
  worker_crashed: 502,
  pool_closed: 503,
  queue_timeout: 503,
  worker_spawn_failed: 503,
  worker_unavailable: 503,
  circuit_open: 503,
  deadline_exceeded: 504,
};

/** Exit codes from error codes (sysexits.h where one fits), complete by construction. */

import type { SnakepitErrorCode } from "../errors.ts";

export const EXIT_CODE: Record<SnakepitErrorCode, number> = {
  invalid_argument: 64, // EX_USAGE
  tool_not_found: 65, // EX_DATAERR
  not_found: 66, // EX_NOINPUT
  session_not_found: 66,
  worker_spawn_failed: 69, // EX_UNAVAILABLE
  worker_unavailable: 69,
  worker_crashed: 69,
  pool_closed: 69,
  circuit_open: 69,
  python_exception: 70, // EX_SOFTWARE
  internal: 70,
  pool_saturated: 75, // EX_TEMPFAIL
  queue_timeout: 75,
  deadline_exceeded: 75,
  worker_busy: 75,
  session_limit: 75,
  session_worker_lost: 75,
  unauthenticated: 77, // EX_NOPERM
  config_invalid: 78, // EX_CONFIG
  payload_too_large: 64,
  aborted: 130,
};

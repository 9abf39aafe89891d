/** Errors on the wire: Connect end-stream error JSON with a snakepit ErrorInfo detail. */

import { Code } from "@connectrpc/connect";
import { isErrorCode, PYTHON_ERROR_KINDS, type PythonErrorInfo, type PythonErrorKind, SnakepitError, type SnakepitErrorCode } from "../errors.ts";

/** Connect's end-stream error, as JSON. */
export interface WireError {
  code: string;
  message: string;
  details?: Array<{ type: string; value?: string; debug?: Record<string, unknown> }>;
}

/** Connect codes as the Connect protocol spells them on the wire. */
const CODE_NAMES: Record<Code, string> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};
const CODE_BY_NAME = new Map(Object.entries(CODE_NAMES).map(([k, v]) => [v, Number(k) as Code]));

/** snakepit code -> Connect code. */
export const CONNECT_CODE: Record<SnakepitErrorCode, Code> = {
  config_invalid: Code.InvalidArgument,
  pool_closed: Code.Unavailable,
  pool_saturated: Code.ResourceExhausted,
  queue_timeout: Code.DeadlineExceeded,
  worker_spawn_failed: Code.Unavailable,
  worker_crashed: Code.Unavailable,
  worker_unavailable: Code.Unavailable,
  worker_busy: Code.ResourceExhausted,
  deadline_exceeded: Code.DeadlineExceeded,
  aborted: Code.Canceled,
  tool_not_found: Code.NotFound,
  invalid_argument: Code.InvalidArgument,
  python_exception: Code.Unknown,
  session_not_found: Code.NotFound,
  session_worker_lost: Code.FailedPrecondition,
  session_limit: Code.ResourceExhausted,
  circuit_open: Code.Unavailable,
  unauthenticated: Code.Unauthenticated,
  not_found: Code.NotFound,
  payload_too_large: Code.ResourceExhausted,
  internal: Code.Internal,
};

const FROM_CONNECT: Partial<Record<Code, SnakepitErrorCode>> = {
  [Code.Canceled]: "aborted",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.NotFound]: "tool_not_found",
  [Code.Unknown]: "python_exception",
  [Code.Unavailable]: "worker_unavailable",
  [Code.Unauthenticated]: "unauthenticated",
  [Code.ResourceExhausted]: "pool_saturated",
};

/** A wire error from Python -> SnakepitError, keeping the Python type and traceback. */
export function errorFromWire(wire: WireError, context: Record<string, unknown> = {}): SnakepitError {
  let code: SnakepitErrorCode = FROM_CONNECT[CODE_BY_NAME.get(wire.code) ?? Code.Unknown] ?? "internal";
  let python: PythonErrorInfo | undefined;
  const details: Record<string, unknown> = { ...context };
  for (const d of wire.details ?? []) {
    const info = d.debug;
    if (!info) continue;
    if (isErrorCode(info.code)) code = info.code;
    if (typeof info.pythonType === "string") {
      const kind = (PYTHON_ERROR_KINDS as readonly string[]).includes(info.kind as string) ? (info.kind as PythonErrorKind) : "PythonException";
      python = { type: info.pythonType, kind };
      if (typeof info.traceback === "string") python.traceback = info.traceback;
    }
    if (typeof info.field === "string" && info.field) details.field = info.field;
    if (info.context && typeof info.context === "object") Object.assign(details, info.context);
  }
  return new SnakepitError(code, wire.message, python ? { details, python } : { details });
}

/** A host-side error -> wire error for Python. */
export function errorToWire(reason: unknown): WireError {
  const err = SnakepitError.from(reason);
  const debug: Record<string, unknown> = { code: err.code };
  if (typeof err.details.field === "string") debug.field = err.details.field;
  return {
    code: CODE_NAMES[CONNECT_CODE[err.code]],
    message: err.message,
    details: [{ type: "snakepit.bridge.v1.ErrorInfo", debug }],
  };
}

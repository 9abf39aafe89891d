/**
 * One error class with a closed set of codes. Every boundary (HTTP, wire, CLI) maps these codes
 * through a `Record<SnakepitErrorCode, ...>` so the compiler forces each table to be complete.
 */

export const ERROR_CODES = [
  "config_invalid",
  "pool_closed",
  "pool_saturated",
  "queue_timeout",
  "worker_spawn_failed",
  "worker_crashed",
  "worker_unavailable",
  "worker_busy",
  "deadline_exceeded",
  "aborted",
  "tool_not_found",
  "invalid_argument",
  "python_exception",
  "session_not_found",
  "session_worker_lost",
  "session_limit",
  "circuit_open",
  "unauthenticated",
  "not_found",
  "payload_too_large",
  "internal",
] as const;

/** The closed set of error codes. */
export type SnakepitErrorCode = (typeof ERROR_CODES)[number];

/**
 * The seed's typed Python errors. Subclasses map to their nearest listed base; the three ML
 * kinds are recognised from messages (their facts are in `details`: `shapes`; `requested_bytes`,
 * `device`, `suggestions`; `devices`); anything else is "PythonException".
 */
export const PYTHON_ERROR_KINDS = [
  "ValueError", "KeyError", "IndexError", "TypeError", "AttributeError", "ImportError", "RuntimeError",
  "NotImplementedError", "FileNotFoundError", "PermissionError", "ZeroDivisionError",
  "ShapeMismatch", "OutOfMemory", "DeviceMismatch", "PythonException",
] as const;
export type PythonErrorKind = (typeof PYTHON_ERROR_KINDS)[number];

/** What Python told us about a failure in a tool. */
export interface PythonErrorInfo {
  /** Exception type name, e.g. "JSONDecodeError". */
  type: string;
  /** The seed's error kind, e.g. "ValueError" for a JSONDecodeError. */
  kind: PythonErrorKind;
  traceback?: string;
}

/** Extra facts attached to an error (tool, worker, exit code, field, ...). */
export type ErrorDetails = Record<string, unknown>;

/** The one error type snakepit throws. */
export class SnakepitError extends Error {
  override name = "SnakepitError";
  readonly code: SnakepitErrorCode;
  readonly details: ErrorDetails;
  readonly python: PythonErrorInfo | undefined;

  constructor(
    code: SnakepitErrorCode,
    message: string,
    options?: ErrorOptions & { details?: ErrorDetails; python?: PythonErrorInfo },
  ) {
    super(message, options);
    this.code = code;
    this.details = options?.details ?? {};
    this.python = options?.python;
  }

  /** Normalise anything thrown into a SnakepitError. */
  static from(reason: unknown): SnakepitError {
    if (reason instanceof SnakepitError) return reason;
    if (reason instanceof Error) {
      if (reason.name === "TimeoutError") {
        return new SnakepitError("deadline_exceeded", reason.message, { cause: reason });
      }
      if (reason.name === "AbortError") {
        return new SnakepitError("aborted", reason.message || "The operation was aborted", { cause: reason });
      }
      return new SnakepitError("internal", reason.message, { cause: reason });
    }
    return new SnakepitError("internal", String(reason));
  }

  /** A JSON body for APIs and logs: `{ code, message, details }`. */
  toJSON(): { code: SnakepitErrorCode; message: string; details: ErrorDetails } {
    const details: ErrorDetails = { ...this.details };
    if (this.python) details.python = this.python;
    return { code: this.code, message: this.message, details };
  }
}

/**
 * The error for a call whose signal fired: the reason itself when it is a SnakepitError,
 * deadline_exceeded for `AbortSignal.timeout()`, else aborted (the reason kept as the cause).
 */
export function abortError(signal: AbortSignal): SnakepitError {
  const reason: unknown = signal.reason;
  if (reason instanceof SnakepitError) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new SnakepitError("deadline_exceeded", reason.message, { cause: reason });
  }
  const message = reason instanceof Error ? reason.message : reason === undefined ? "The operation was aborted" : String(reason);
  return new SnakepitError("aborted", message, { cause: reason });
}

/** True when `value` is one of the closed set of codes. */
export function isErrorCode(value: unknown): value is SnakepitErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

/** SnakepitError -> the ErrorInfo detail of ControlService (Connect `details`, gRPC status details). */

import { create, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorInfo, ErrorInfoSchema } from "../bridge/gen/snakepit/api/v1/control_pb.ts";
import { CONNECT_CODE } from "../bridge/wire-errors.ts";
import { SnakepitError } from "../errors.ts";
import { toHttpJson } from "./http-json.ts";

/** The ErrorInfo message for an error (the Python type and traceback when Python failed). */
export function errorInfo(err: SnakepitError, requestId = ""): ErrorInfo {
  const { python: _, ...rest } = err.toJSON().details;
  const details = toHttpJson(rest) as JsonObject;
  return create(ErrorInfoSchema, {
    code: err.code,
    pythonType: err.python?.type ?? "",
    pythonKind: err.python?.kind ?? "",
    traceback: err.python?.traceback ?? "",
    requestId,
    details,
  });
}

/** Anything thrown -> a ConnectError carrying ErrorInfo; the snakepit code also in a header. */
export function toConnectError(err: unknown, requestId = ""): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = SnakepitError.from(err);
  return new ConnectError(e.message, CONNECT_CODE[e.code] ?? Code.Internal, { "x-snakepit-code": e.code }, [{ desc: ErrorInfoSchema, value: errorInfo(e, requestId) }], e);
}

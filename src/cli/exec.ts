/** `snakepit exec TOOL`: start a pool, make one call (or stream), print the result, clean up. */

import { toHttpJson } from "../api/http-json.ts";
import { fromHttpJson } from "../api/http-json.ts";
import type { LoadedConfig } from "../config/load.ts";
import { SnakepitError } from "../errors.ts";
import { Snakepit } from "../snakepit.ts";

/** Parse `--args` JSON into named arguments, with an error that says what is wrong. */
export function parseArgsJson(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SnakepitError("invalid_argument", `--args is not valid JSON: ${(err as Error).message}`, { details: { field: "args" } });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SnakepitError("invalid_argument", `--args must be a JSON object of named arguments, e.g. '{"a":1}'`, { details: { field: "args" } });
  }
  return fromHttpJson(value) as Record<string, unknown>;
}

/** Run one call and print its result as JSON (one line per chunk with --stream). */
export async function exec(config: LoadedConfig, tool: string, args: Record<string, unknown>, options: { stream: boolean; timeoutMs?: number }): Promise<number> {
  await using pit = await Snakepit.start({ pools: config.pools, sessions: config.sessions, instance: config.instance, telemetry: config.telemetry, ...(config.stateDir ? { stateDir: config.stateDir } : {}) });
  const callOptions = options.timeoutMs ? { timeoutMs: options.timeoutMs } : {};
  if (options.stream) {
    for await (const chunk of pit.stream(tool, args, callOptions)) console.log(JSON.stringify(toHttpJson(chunk)));
  } else {
    console.log(JSON.stringify(toHttpJson(await pit.execute(tool, args, callOptions))));
  }
  return 0;
}

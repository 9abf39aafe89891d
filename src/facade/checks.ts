/** Checks of the facade's arguments, and run ids. */

import { checkAdapterPath } from "../config/adapter-path.ts";
import { parseConfig, type SnakepitOptions } from "../config/parse.ts";
import type { PoolConfig } from "../config/schema.ts";
import { SnakepitError } from "../errors.ts";
import { AFFINITY_MODES } from "../session/affinity.ts";

const AFFINITY = new Set<string>(AFFINITY_MODES);
/** Longest tool name a call may give. */
const MAX_TOOL_NAME = 256;

/** 128 random bits: two runs never share an id, so one never kills the other's workers. */
export function newRunId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/** Throws invalid_argument naming what is wrong with a call's tool, args or affinity. */
export function checkCall(tool: unknown, args: unknown, affinity: unknown): void {
  if (typeof tool !== "string" || tool.length === 0) {
    throw new SnakepitError("invalid_argument", `tool must be a non-empty string, got ${JSON.stringify(tool)}`, { details: { field: "tool" } });
  }
  if (tool.length > MAX_TOOL_NAME) {
    // Names are echoed in errors and logs: a megabyte of name must not come back as a megabyte of error.
    throw new SnakepitError("invalid_argument", `tool name is ${tool.length} characters long; at most ${MAX_TOOL_NAME} (it starts ${JSON.stringify(tool.slice(0, 40))})`, {
      details: { field: "tool", maxLength: MAX_TOOL_NAME },
    });
  }
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new SnakepitError("invalid_argument", `args of "${tool}" must be an object of named arguments`, { details: { field: "args" } });
  }
  if (affinity !== undefined && !AFFINITY.has(affinity as string)) {
    throw new SnakepitError("invalid_argument", `affinity must be ${AFFINITY_MODES.join(", ")}, got ${JSON.stringify(affinity)}`, { details: { field: "affinity" } });
  }
}

/** The pools' configs from the options, each adapter path checked before anything is spawned. */
export function poolConfigs(options: SnakepitOptions): PoolConfig[] {
  const configs = parseConfig(options);
  for (const config of configs) checkAdapterPath(config.adapter, config.cwd);
  return configs;
}

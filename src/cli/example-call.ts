/**
 * The call `serve` suggests and makes as its demo: `add` when the adapter has it (the built-in
 * example), else the adapter's first tool with a sample value for each required argument.
 */

import type { ToolSpec } from "../worker/link.ts";

/** One example request body for /v1/execute or /v1/stream. */
export interface ExampleCall {
  tool: string;
  args: Record<string, unknown>;
  streaming: boolean;
}

const SAMPLE: Record<string, unknown> = { integer: 1, number: 1.5, string: "text", boolean: true, array: [], object: {}, null: null };

function sampleArgs(parameters: Record<string, unknown>): Record<string, unknown> {
  const properties = (parameters.properties ?? {}) as Record<string, { type?: unknown; default?: unknown }>;
  const required = Array.isArray(parameters.required) ? (parameters.required as string[]) : [];
  const args: Record<string, unknown> = {};
  for (const name of required) {
    const type = properties[name]?.type;
    args[name] = typeof type === "string" && type in SAMPLE ? SAMPLE[type] : "text";
  }
  return args;
}

/** Undefined when the pools expose no tool at all. */
export function exampleCall(tools: ToolSpec[]): ExampleCall | undefined {
  const add = tools.find((t) => t.name === "add" && !t.streaming);
  if (add && "a" in ((add.parameters.properties ?? {}) as object)) return { tool: "add", args: { a: 1, b: 2 }, streaming: false };
  const pick = tools.find((t) => t.origin === "python" && !t.streaming) ?? tools.find((t) => t.origin === "python") ?? tools[0];
  return pick ? { tool: pick.name, args: sampleArgs(pick.parameters), streaming: pick.streaming } : undefined;
}

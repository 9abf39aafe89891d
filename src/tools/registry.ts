/**
 * Host tools: TypeScript functions Python tools can call (`ctx.call("name", ...)`), each with a
 * zod schema that checks the arguments before the handler runs. Global, or scoped to a session.
 */

import { z } from "zod";
import { SnakepitError } from "../errors.ts";
import type { ToolSpec } from "../bridge/messages.ts";

/** What a host tool's handler gets besides its arguments. */
export interface HostToolContext {
  /** The session of the Python call that made this call, if any. */
  sessionId: string | undefined;
  /** Aborted when the enclosing Python call is cancelled or its deadline passes. */
  signal: AbortSignal;
  pool: string;
  worker: string;
}

/** A host tool. A handler that is an async generator streams (Python iterates `ctx.stream()`). */
export interface HostToolDefinition<S extends z.ZodType = z.ZodType> {
  description?: string;
  /** Schema of the arguments object. @default any object */
  input?: S;
  handler: (args: z.output<S>, ctx: HostToolContext) => unknown;
}

interface Entry {
  name: string;
  definition: HostToolDefinition;
  schema: Record<string, unknown>;
  streaming: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

export class ToolRegistry {
  readonly #global = new Map<string, Entry>();
  readonly #bySession = new Map<string, Map<string, Entry>>();

  /** Register a tool (replacing one of the same name and scope); returns an unregister function. */
  register<S extends z.ZodType>(name: string, definition: HostToolDefinition<S>, options: { sessionId?: string } = {}): () => void {
    if (!NAME.test(name)) {
      throw new SnakepitError("invalid_argument", `Host tool name "${name}" must start with a letter or _ and use letters, digits, _ . -`, { details: { field: "name" } });
    }
    if (typeof definition?.handler !== "function") {
      throw new SnakepitError("invalid_argument", `Host tool "${name}" needs a handler function`, { details: { field: "handler" } });
    }
    const schema = definition.input
      ? (z.toJSONSchema(definition.input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>)
      : { type: "object" };
    delete schema.$schema;
    const entry: Entry = {
      name,
      definition: definition as unknown as HostToolDefinition,
      schema,
      streaming: definition.handler.constructor.name === "AsyncGeneratorFunction",
    };
    const scope = options.sessionId ? this.#sessionScope(options.sessionId, true)! : this.#global;
    scope.set(name, entry);
    return () => {
      if (scope.get(name) === entry) scope.delete(name);
    };
  }

  #sessionScope(sessionId: string, create: boolean): Map<string, Entry> | undefined {
    let scope = this.#bySession.get(sessionId);
    if (!scope && create) this.#bySession.set(sessionId, (scope = new Map()));
    return scope;
  }

  /** Tools visible to a session: its own, then the global ones. */
  list(sessionId?: string): ToolSpec[] {
    const seen = new Map<string, Entry>(this.#global);
    if (sessionId) for (const [n, e] of this.#sessionScope(sessionId, false) ?? []) seen.set(n, e);
    return [...seen.values()].map((e) => ({
      name: e.name,
      description: e.definition.description ?? "",
      parameters: e.schema,
      streaming: e.streaming,
      origin: "host" as const,
    }));
  }

  /** Drop a session's tools (the session ended). */
  dropSession(sessionId: string): void {
    this.#bySession.delete(sessionId);
  }

  #lookup(name: string, sessionId: string | undefined): Entry {
    const entry = (sessionId ? this.#sessionScope(sessionId, false)?.get(name) : undefined) ?? this.#global.get(name);
    if (!entry) {
      const names = this.list(sessionId).map((t) => t.name).join(", ") || "none";
      throw new SnakepitError("tool_not_found", `Host tool "${name}" is not registered (registered: ${names})`, { details: { tool: name } });
    }
    return entry;
  }

  #validate(entry: Entry, args: unknown): unknown {
    if (!entry.definition.input) return args;
    const parsed = entry.definition.input.safeParse(args);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".") || (issue.code === "unrecognized_keys" ? issue.keys.join(", ") : "");
    throw new SnakepitError("invalid_argument", `Host tool "${entry.name}": ${field ? `argument ${field}: ` : ""}${issue.message}`, {
      details: { field, tool: entry.name },
    });
  }

  /** Run a tool for a unary call: a streaming handler's chunks are collected into a list. */
  async call(name: string, args: unknown, ctx: HostToolContext): Promise<unknown> {
    const entry = this.#lookup(name, ctx.sessionId);
    const out = await entry.definition.handler(this.#validate(entry, args), ctx);
    if (!isAsyncIterable(out)) return out;
    const items: unknown[] = [];
    for await (const item of out) items.push(item);
    return items;
  }

  /** Run a tool for a streaming call: each yielded value is one chunk. */
  async *stream(name: string, args: unknown, ctx: HostToolContext): AsyncGenerator<unknown> {
    const entry = this.#lookup(name, ctx.sessionId);
    const out = await entry.definition.handler(this.#validate(entry, args), ctx);
    if (isAsyncIterable(out)) yield* out;
    else yield out;
  }
}

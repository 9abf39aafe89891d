/** `pit.telemetry`: custom events and spans, Python telemetry control, the event stream, metrics. */

import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Registry } from "prom-client";
import { SnakepitError } from "../errors.ts";
import type { AnyEvent, EventBus } from "./bus.ts";
import { type TelemetryControlInput, TelemetryControlSchema } from "./control.ts";
import { anyGlob } from "./glob.ts";

const NAME = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;

/** The telemetry face of a running Snakepit. */
export interface TelemetryApi {
  /** Emit a custom event (name like "app.model_loaded"); listeners get it as "custom.event". */
  emit(name: string, measurements?: Record<string, number>, metadata?: Record<string, string>): void;
  /** Run `fn` between `<name>.start` and `<name>.stop` / `<name>.exception` events, in an OpenTelemetry span. */
  span<T>(name: string, fn: () => Promise<T> | T, metadata?: Record<string, string>): Promise<T>;
  /** Change Python telemetry at run time, for every pool or one pool / worker. */
  configure(control: TelemetryControlInput, target?: { pool?: string; worker?: string }): Promise<void>;
  /** Every event as an async iterable (optionally only names matching `names` globs). */
  events(options?: { names?: string[]; signal?: AbortSignal; bufferSize?: number }): AsyncGenerator<AnyEvent, void, undefined>;
  /** Prometheus text exposition, or undefined when metrics are off. */
  metrics(): Promise<string | undefined>;
  readonly metricsContentType: string;
}

/** What the telemetry face needs from the Snakepit. */
export interface TelemetryDeps {
  bus: EventBus;
  registry: Registry | undefined;
  configure(control: ReturnType<typeof TelemetryControlSchema.parse>, target: { pool?: string; worker?: string }): Promise<void>;
}


export function createTelemetryApi(deps: TelemetryDeps): TelemetryApi {
  const { bus } = deps;
  const tracer = trace.getTracer("snakepit");
  const emit = (name: string, measurements: Record<string, number> = {}, metadata: Record<string, string> = {}) => {
    if (!NAME.test(name)) {
      throw new SnakepitError("invalid_argument", `Event name "${name}" must be dotted lower_snake_case, e.g. "app.model_loaded"`, { details: { field: "name" } });
    }
    bus.emit("custom.event", { name, measurements, metadata });
  };
  return {
    emit,
    async span(name, fn, metadata = {}) {
      emit(`${name}.start`, {}, metadata);
      const t0 = performance.now();
      const span = tracer.startSpan(name);
      try {
        const out = await context.with(trace.setSpan(context.active(), span), fn);
        emit(`${name}.stop`, { duration_ms: performance.now() - t0 }, metadata);
        span.end();
        return out;
      } catch (err) {
        emit(`${name}.exception`, { duration_ms: performance.now() - t0 }, { ...metadata, kind: err instanceof Error ? err.name : typeof err });
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw err;
      }
    },
    configure(control, target = {}) {
      const parsed = TelemetryControlSchema.safeParse(control);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new SnakepitError("invalid_argument", `Invalid telemetry control: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
      }
      return deps.configure(parsed.data, target);
    },
    async *events(options = {}) {
      if ((options.names?.length ?? 0) > 32) throw new SnakepitError("invalid_argument", "At most 32 name globs", { details: { field: "names" } });
      let wanted: (name: string) => boolean;
      try {
        wanted = anyGlob(options.names);
      } catch (err) {
        throw new SnakepitError("invalid_argument", `Bad name glob: ${(err as Error).message}`, { details: { field: "names" } });
      }
      const limit = options.bufferSize ?? 10_000;
      const buffer: AnyEvent[] = [];
      let wake: (() => void) | undefined;
      let dropped = 0;
      const off = bus.onAny((e) => {
        if (!wanted(e.name === "custom.event" || e.name === "python.event" ? (e.data as { name: string }).name : e.name)) return;
        if (buffer.length >= limit) {
          buffer.shift();
          dropped++;
        }
        buffer.push(e);
        wake?.();
      });
      const onAbort = () => wake?.();
      options.signal?.addEventListener("abort", onAbort);
      try {
        for (;;) {
          if (options.signal?.aborted) return;
          const next = buffer.shift();
          if (next) {
            if (dropped) {
              yield { name: "telemetry.dropped", time: Date.now(), data: { dropped } };
              dropped = 0;
            }
            yield next;
            continue;
          }
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      } finally {
        off();
        options.signal?.removeEventListener("abort", onAbort);
      }
    },
    async metrics() {
      return deps.registry ? await deps.registry.metrics() : undefined;
    },
    metricsContentType: "text/plain; version=0.0.4; charset=utf-8",
  };
}


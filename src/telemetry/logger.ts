/**
 * Structured logs, silent by default (errors only), with the seed's levels and categories.
 * Records go to a sink: JSON lines on stderr unless the application passes its own.
 */

import { z } from "zod";

export const LOG_CATEGORIES = ["pool", "worker", "bridge", "lifecycle", "startup", "shutdown", "telemetry", "general"] as const;
export type LogCategory = (typeof LOG_CATEGORIES)[number];
const LEVELS = { debug: 10, info: 20, warning: 30, error: 40, none: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

/** One log record. */
export interface LogRecord {
  time: string;
  level: Exclude<LogLevel, "none">;
  category: LogCategory;
  message: string;
  [field: string]: unknown;
}

export const LogConfigSchema = z.object({
  level: z.enum(["debug", "info", "warning", "error", "none"]).default("error").describe("Lowest level written"),
  categories: z.array(z.enum(LOG_CATEGORIES)).optional().describe("Only these categories (default: all)"),
}).strict();
export type LogConfig = z.output<typeof LogConfigSchema>;

/** Where records go. */
export type LogSink = (record: LogRecord) => void;

const stderrSink: LogSink = (record) => console.error(JSON.stringify(record));

export class Logger {
  readonly #min: number;
  readonly #categories: ReadonlySet<LogCategory> | undefined;
  readonly #sink: LogSink;

  constructor(config: LogConfig, sink: LogSink = stderrSink) {
    this.#min = LEVELS[config.level];
    this.#categories = config.categories ? new Set(config.categories) : undefined;
    this.#sink = sink;
  }

  /** True when a record at `level` in `category` would be written (skip building it otherwise). */
  enabled(level: Exclude<LogLevel, "none">, category: LogCategory): boolean {
    return LEVELS[level] >= this.#min && (!this.#categories || this.#categories.has(category));
  }

  log(level: Exclude<LogLevel, "none">, category: LogCategory, message: string, fields: Record<string, unknown> = {}): void {
    if (!this.enabled(level, category)) return;
    try {
      this.#sink({ time: new Date().toISOString(), level, category, message, ...fields });
    } catch {
      // A broken sink must not break the pool.
    }
  }
}

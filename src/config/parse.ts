/** Turn user input into validated pool configs, with errors that name the field and source. */

import { z } from "zod";
import { SnakepitError } from "../errors.ts";
import { type SessionConfig, type SessionConfigInput, SessionConfigSchema } from "../session/sessions.ts";
import type { TelemetryControlInput } from "../telemetry/control.ts";
import type { z as zod } from "zod";
import type { LogConfigSchema } from "../telemetry/logger.ts";
import { type PoolConfig, PoolConfigSchema, type PoolConfigInput } from "./schema.ts";
import { type ClusterConfigInput, parseClusterConfig } from "./cluster.ts";

type LogConfigInput = zod.input<typeof LogConfigSchema>;

/** What `Snakepit.start()` accepts: one pool inline, or `pools` (inline fields are their defaults). */
export type SnakepitOptions = Partial<PoolConfigInput> & {
  pools?: Array<Partial<PoolConfigInput> & { name: string }>;
  /** Session settings, shared by all pools. */
  sessions?: SessionConfigInput;
  /**
   * Name of this host instance: the process registry is kept per name, and a restart with the
   * same name kills workers its dead predecessors left. @default "default"
   */
  instance?: string;
  /** Folder for the process registry. @default $SNAKEPIT_STATE_DIR or ~/.local/state/snakepit */
  stateDir?: string;
  /** Metrics, logs and the initial Python telemetry control. */
  telemetry?: TelemetryOptions;
  /** Join a cluster of nodes over NATS (a URL, or the full settings; see docs/cluster.md). */
  cluster?: ClusterConfigInput | string;
};

/** Telemetry settings of `Snakepit.start()`. */
export interface TelemetryOptions {
  /** Keep Prometheus metrics (`pit.telemetry.metrics()`, `/metrics`). @default true */
  metrics?: boolean;
  /** Structured logs. @default { level: "error" } */
  log?: LogConfigInput;
  /** Python telemetry control every worker starts with. @default all on, sampling 1 */
  control?: TelemetryControlInput;
}

/** Names where a field's value came from: a file, an env var, a flag. */
export type SourceOf = (field: string) => string;

function describe(error: z.ZodError, sourceOf: SourceOf, prefix: string): string {
  return error.issues
    .map((issue) => {
      const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
      const path = [prefix, ...issue.path.map(String), ...keys.slice(0, 1)].filter(Boolean).join(".");
      const field = prefix ? prefix.replace(/\[\d+\]$/, "") : String(issue.path[0] ?? keys[0] ?? "");
      return `${sourceOf(field)}: ${path || "(root)"}: ${issue.message}`;
    })
    .join("; ");
}

/** Validate options into one config per pool. Throws `config_invalid` naming each bad field. */
export function parseConfig(input: SnakepitOptions, source: string | SourceOf = "config"): PoolConfig[] {
  const sourceOf: SourceOf = typeof source === "string" ? () => source : source;
  if (typeof input !== "object" || input === null) {
    throw new SnakepitError("config_invalid", `${sourceOf("")}: expected an object`);
  }
  const { pools, sessions: _sessions, instance: _instance, stateDir: _stateDir, telemetry: _telemetry, cluster, ...defaults } = input as SnakepitOptions & Record<string, unknown>;
  if (cluster !== undefined) parseClusterConfig(cluster); // bad cluster settings fail before any worker starts
  const entries = pools && pools.length > 0
    ? pools.map((pool, i) => ({ raw: { ...defaults, ...pool }, prefix: `pools[${i}]` }))
    : [{ raw: defaults, prefix: "" }];
  const out: PoolConfig[] = [];
  const problems: string[] = [];
  for (const { raw, prefix } of entries) {
    const parsed = PoolConfigSchema.safeParse(raw);
    if (parsed.success) out.push(parsed.data);
    else problems.push(describe(parsed.error, sourceOf, prefix));
  }
  if (problems.length) {
    throw new SnakepitError("config_invalid", `Invalid configuration: ${problems.join("; ")}`);
  }
  const names = new Set<string>();
  for (const pool of out) {
    if (names.has(pool.name)) throw new SnakepitError("config_invalid", `${sourceOf("pools")}: two pools are named "${pool.name}"`);
    names.add(pool.name);
  }
  return out;
}

/** Validate the session settings. */
export function parseSessionConfig(input: SessionConfigInput | undefined, source: string | SourceOf = "config"): SessionConfig {
  const sourceOf: SourceOf = typeof source === "string" ? () => source : source;
  const parsed = SessionConfigSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw new SnakepitError("config_invalid", `Invalid configuration: ${describe(parsed.error, sourceOf, "sessions")}`);
}

/**
 * Configuration from a file (TOML or JSON), the environment (`SNAKEPIT_*`) and flags, in
 * rising precedence (flags win, also over each `[[pools]]` entry). Errors name the field and
 * where its value came from.
 */

import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { SnakepitError } from "../errors.ts";
import { readTextFile } from "../runtime/process.ts";
import { isLoopback } from "./loopback.ts";
import type { ClusterConfigInput } from "./cluster.ts";
import type { SessionConfig } from "../session/sessions.ts";
import { parseConfig, parseSessionConfig, type SnakepitOptions, type TelemetryOptions } from "./parse.ts";
import { type PoolConfig, PoolConfigSchema, type ServerConfig, ServerConfigSchema } from "./schema.ts";
import { resolveToken } from "./token.ts";

/** Everything `snakepit serve` runs with. */
export interface LoadedConfig {
  pools: PoolConfig[];
  server: ServerConfig;
  sessions: SessionConfig;
  /** Instance name for the process registry (file `instance`, SNAKEPIT_INSTANCE, --instance). */
  instance: string;
  /** The file's `[telemetry]` table (metrics, log, control). */
  telemetry: TelemetryOptions;
  /** The file's `state_dir`, if any (else SNAKEPIT_STATE_DIR or the default). */
  stateDir: string | undefined;
  /** The file's `[cluster]` table and the --cluster flags (undefined: not clustered). */
  cluster?: ClusterConfigInput | undefined;
}

/** Where values come from. */
export interface ConfigSources {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Already-typed values from the command line, by field name (pool or server fields, `instance`). */
  flags?: Record<string, unknown>;
}

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/** `poolSize` -> `SNAKEPIT_POOL_SIZE`. */
export const envName = (key: string) => "SNAKEPIT_" + key.replace(/([A-Z])/g, "_$1").toUpperCase();

const poolKeys = Object.keys(PoolConfigSchema.shape);
const serverKeys = Object.keys(ServerConfigSchema.shape);
/** Tables whose own keys are variable names and stay as written. */
const VERBATIM = new Set(["env", "metadata", "sampling"]);

/** snake_case -> camelCase, all the way down (but not inside `env` and the like). */
function camelDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelDeep);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => {
    const key = camel(k);
    return [key, VERBATIM.has(key) ? v : camelDeep(v)];
  }));
}

async function readFile(path: string): Promise<Record<string, unknown>> {
  const text = await readTextFile(path);
  if (text === undefined) throw new SnakepitError("config_invalid", `Cannot read config file ${path}`, { details: { source: path } });
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    throw new SnakepitError("config_invalid", `${path}: ${(err as Error).message.split("\n")[0]}`, { details: { source: path } });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SnakepitError("config_invalid", `${path}: expected a table/object at the top level`, { details: { source: path } });
  }
  return camelDeep(raw) as Record<string, unknown>;
}

function jsonType(schema: z.ZodObject, key: string): string {
  const prop = (z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }).properties ?? {})[key] as { type?: string; anyOf?: Array<{ type?: string }> } | undefined;
  return prop?.type ?? prop?.anyOf?.find((t) => t.type)?.type ?? "string";
}

function coerce(name: string, raw: string, type: string): unknown {
  if (type === "integer" || type === "number") {
    const n = raw.trim().toLowerCase() === "infinity" ? Infinity : Number(raw);
    if (raw.trim() === "" || Number.isNaN(n)) throw new SnakepitError("config_invalid", `${name}: expected a number, got "${raw}"`, { details: { source: name } });
    return n;
  }
  if (type === "boolean") {
    if (/^(1|true|yes)$/i.test(raw)) return true;
    if (/^(0|false|no)$/i.test(raw)) return false;
    throw new SnakepitError("config_invalid", `${name}: expected true or false, got "${raw}"`, { details: { source: name } });
  }
  if (type === "array") {
    if (!raw.trim().startsWith("[")) return raw.split(/\s+/).filter(Boolean);
    try {
      return JSON.parse(raw);
    } catch (err) {
      throw new SnakepitError("config_invalid", `${name}: not a JSON list: ${(err as Error).message}`, { details: { source: name } });
    }
  }
  return raw;
}

/** Merge file, environment and flags, validate, and check the server's exposure rules. */
export async function loadConfig(sources: ConfigSources = {}): Promise<LoadedConfig> {
  const origin = new Map<string, string>();
  const file = sources.file ? await readFile(sources.file) : {};
  const from = sources.file ?? "config";
  const { server: fileServer, pools, sessions, telemetry, instance: fileInstance, stateDir, cluster, ...inline } = file;
  for (const key of Object.keys(inline)) origin.set(key, from);
  for (const key of serverKeys) {
    if (key in inline && !poolKeys.includes(key)) {
      throw new SnakepitError("config_invalid", `${from}: "${key}" belongs under [server] (server.${key})`, { details: { field: key, source: from } });
    }
  }
  const server: Record<string, unknown> = { ...(fileServer as Record<string, unknown> | undefined) };
  for (const key of Object.keys(server)) origin.set(`server.${key}`, from);
  // Environment and flags: applied over the file's top level AND over every [[pools]] entry.
  const overrides: Record<string, unknown> = {};
  const set = (key: string, value: unknown, source: string) => {
    if (serverKeys.includes(key)) {
      server[key] = value;
      origin.set(`server.${key}`, source);
    }
    if (poolKeys.includes(key)) {
      overrides[key] = value;
      origin.set(key, source);
    }
  };
  for (const key of new Set([...poolKeys, ...serverKeys])) {
    if (key === "env" || key === "name") continue;
    const name = envName(key);
    const raw = sources.env?.[name];
    if (raw === undefined || raw === "") continue;
    const type = jsonType(serverKeys.includes(key) ? ServerConfigSchema : PoolConfigSchema, key);
    set(key, coerce(name, raw, type), name);
  }
  const { instance: instanceFlag, ...flags } = sources.flags ?? {};
  for (const [key, value] of Object.entries(flags)) {
    if (value !== undefined) set(key, value, `--${key.replace(/([A-Z])/g, "-$1").toLowerCase()}`);
  }
  const instance = (typeof instanceFlag === "string" && instanceFlag) || sources.env?.SNAKEPIT_INSTANCE || (fileInstance as string | undefined) || "default";

  const poolInput = { ...inline, ...overrides } as SnakepitOptions;
  if (Array.isArray(pools)) {
    poolInput.pools = pools.map((p) => ({ ...(p as object), ...overrides })) as NonNullable<SnakepitOptions["pools"]>;
    origin.set("pools", from);
  }
  const sourceOf = (field: string) => origin.get(field) ?? (field ? "defaults" : from);
  const parsedPools = parseConfig(poolInput, sourceOf);
  const parsedServer = ServerConfigSchema.safeParse(server);
  if (!parsedServer.success) {
    const issue = parsedServer.error.issues[0]!;
    const field = issue.path.map(String).join(".");
    throw new SnakepitError("config_invalid", `${origin.get(`server.${field}`) ?? "config"}: server.${field}: ${issue.message}`, { details: { field } });
  }
  const serverConfig: ServerConfig = { ...parsedServer.data, token: resolveToken(parsedServer.data) };
  const parsedSessions = parseSessionConfig(sessions as SnakepitOptions["sessions"], () => from);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(instance)) {
    throw new SnakepitError("config_invalid", `instance "${instance}" must be 1–64 letters, digits, _ . -`, { details: { field: "instance" } });
  }
  const result: LoadedConfig = {
    pools: parsedPools,
    server: serverConfig,
    sessions: parsedSessions,
    instance,
    telemetry: (telemetry as TelemetryOptions | undefined) ?? {},
    stateDir: typeof stateDir === "string" ? stateDir : undefined,
    ...(cluster !== undefined ? { cluster: cluster as ClusterConfigInput } : {}),
  };
  checkExposure(result.server);
  return result;
}

/** Refuse to listen beyond this machine without a token. */
export function checkExposure(server: ServerConfig): void {
  if (!isLoopback(server.host) && !server.token) {
    throw new SnakepitError(
      "config_invalid",
      `Refusing to bind ${server.host} without a token: other machines could run code through this server. Set SNAKEPIT_TOKEN_FILE (or --token-file, SNAKEPIT_TOKEN, --token), or bind 127.0.0.1`,
      { details: { field: "host" } },
    );
  }
}

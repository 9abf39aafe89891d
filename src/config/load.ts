/**
 * Configuration from a file (TOML or JSON), the environment (`SNAKEPIT_*`) and flags, in
 * rising precedence (flags win). Errors name the field and where its value came from.
 */

import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { SnakepitError } from "../errors.ts";
import { readTextFile } from "../runtime/process.ts";
import type { SessionConfig } from "../session/sessions.ts";
import { parseConfig, parseSessionConfig, type SnakepitOptions } from "./parse.ts";
import { type PoolConfig, PoolConfigSchema, type ServerConfig, ServerConfigSchema } from "./schema.ts";

/** Everything `snakepit serve` runs with. */
export interface LoadedConfig {
  pools: PoolConfig[];
  server: ServerConfig;
  sessions: SessionConfig;
  /** Instance name for the process registry (file `instance`, SNAKEPIT_INSTANCE, --instance). */
  instance: string;
}

/** Where values come from. */
export interface ConfigSources {
  file?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Already-typed values from the command line, by field name (pool or server fields). */
  flags?: Record<string, unknown>;
}

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/** `poolSize` -> `SNAKEPIT_POOL_SIZE`. */
export const envName = (key: string) => "SNAKEPIT_" + key.replace(/([A-Z])/g, "_$1").toUpperCase();

const poolKeys = Object.keys(PoolConfigSchema.shape);
const serverKeys = Object.keys(ServerConfigSchema.shape);

function camelKeys(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [camel(k), v]));
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
  const top = camelKeys(raw as Record<string, unknown>);
  if (top.server && typeof top.server === "object") top.server = camelKeys(top.server as Record<string, unknown>);
  if (Array.isArray(top.pools)) top.pools = top.pools.map((p) => (typeof p === "object" && p ? camelKeys(p as Record<string, unknown>) : p));
  return top;
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
  if (type === "array") return raw.trim().startsWith("[") ? JSON.parse(raw) : raw.split(/\s+/).filter(Boolean);
  return raw;
}

/** Merge file, environment and flags, validate, and check the server's exposure rules. */
export async function loadConfig(sources: ConfigSources = {}): Promise<LoadedConfig> {
  const origin = new Map<string, string>();
  const inline: Record<string, unknown> = {};
  const server: Record<string, unknown> = {};
  let pools: unknown;
  let sessions: Record<string, unknown> | undefined;
  let instance = "default";
  const set = (key: string, value: unknown, from: string) => {
    if (serverKeys.includes(key)) server[key] = value;
    if (poolKeys.includes(key) || !serverKeys.includes(key)) inline[key] = value;
    origin.set(key, from);
  };

  if (sources.file) {
    const file = await readFile(sources.file);
    for (const [k, v] of Object.entries(file)) {
      if (k === "server" && typeof v === "object" && v) {
        for (const [sk, sv] of Object.entries(v)) {
          server[sk] = sv;
          origin.set(`server.${sk}`, sources.file);
        }
      } else if (k === "instance") {
        instance = String(v);
      } else if (k === "sessions" && typeof v === "object" && v) {
        sessions = camelKeys(v as Record<string, unknown>);
        origin.set("sessions", sources.file);
      } else if (k === "pools") {
        pools = v;
        origin.set("pools", sources.file);
      } else {
        inline[k] = v;
        origin.set(k, sources.file);
      }
    }
  }
  for (const key of new Set([...poolKeys, ...serverKeys])) {
    if (key === "env" || key === "name") continue;
    const name = envName(key);
    const raw = sources.env?.[name];
    if (raw === undefined || raw === "") continue;
    const type = jsonType(serverKeys.includes(key) ? ServerConfigSchema : PoolConfigSchema, key);
    set(key, coerce(name, raw, type), name);
  }
  instance = sources.env?.SNAKEPIT_INSTANCE || instance;
  const { instance: instanceFlag, ...flags } = sources.flags ?? {};
  if (typeof instanceFlag === "string" && instanceFlag) instance = instanceFlag;
  for (const [key, value] of Object.entries(flags)) {
    if (value !== undefined) set(key, value, `--${key.replace(/([A-Z])/g, "-$1").toLowerCase()}`);
  }

  const poolInput: SnakepitOptions = { ...(inline as SnakepitOptions) };
  for (const key of serverKeys) if (!poolKeys.includes(key)) delete (poolInput as Record<string, unknown>)[key];
  if (pools !== undefined) poolInput.pools = pools as NonNullable<SnakepitOptions["pools"]>;
  const parsedPools = parseConfig(poolInput, (field) => origin.get(field) ?? (field ? "defaults" : sources.file ?? "config"));
  const parsedServer = ServerConfigSchema.safeParse(server);
  if (!parsedServer.success) {
    const issue = parsedServer.error.issues[0]!;
    const field = issue.path.map(String).join(".");
    throw new SnakepitError("config_invalid", `${origin.get(field) ?? origin.get(`server.${field}`) ?? "config"}: server.${field}: ${issue.message}`, {
      details: { field },
    });
  }
  const parsedSessions = parseSessionConfig(sessions, () => origin.get("sessions") ?? "config");
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(instance)) {
    throw new SnakepitError("config_invalid", `instance "${instance}" must be 1–64 letters, digits, _ . -`, { details: { field: "instance" } });
  }
  const result = { pools: parsedPools, server: parsedServer.data, sessions: parsedSessions, instance };
  checkExposure(result.server);
  return result;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/;

/** Refuse to listen beyond this machine without a token. */
export function checkExposure(server: ServerConfig): void {
  if (!LOOPBACK.test(server.host) && !server.token) {
    throw new SnakepitError(
      "config_invalid",
      `Refusing to bind ${server.host} without a token: other machines could run code through this server. Set --token (or SNAKEPIT_TOKEN), or bind 127.0.0.1`,
      { details: { field: "host" } },
    );
  }
}

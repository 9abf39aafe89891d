#!/usr/bin/env bun
/** The `snakepit` command: serve, exec, status, doctor, setup, new adapter. */

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { toHttpJson } from "../api/http-json.ts";
import { loadConfig, type LoadedConfig } from "../config/load.ts";
import { SnakepitError } from "../errors.ts";
import { hostEnv } from "../runtime/process.ts";
import { resolvePython, setBridgeDir } from "../worker/python.ts";
import { prepareAssets } from "./assets.ts";
import { printChecks, printChecksJson, runChecks } from "./doctor.ts";
import { exec, parseArgsJson } from "./exec.ts";
import { EXIT_CODE } from "./exit-codes.ts";
import { scaffoldAdapter } from "./scaffold.ts";
import { serve } from "./serve.ts";
import { setup } from "./setup.ts";
import { SETUP_ENV_FLAGS } from "./setup-env.ts";
import { status } from "./status.ts";
import { VERSION, versionLine } from "./version.ts";
import { CLUSTER_FLAGS, CLUSTER_HELP, clusterSettings } from "../cluster/flags.ts";
import { clusterStatus } from "./cluster-status.ts";

export { VERSION };
const LOCAL_CONFIG = "snakepit.toml";

const POOL_FLAGS = {
  config: { type: "string", short: "c" },
  adapter: { type: "string", short: "a" },
  "pool-size": { type: "string", short: "n" },
  python: { type: "string" },
  instance: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;
const SERVER_FLAGS = { host: { type: "string" }, port: { type: "string", short: "p" }, token: { type: "string" }, "token-file": { type: "string" }, "grpc-port": { type: "string" } } as const;

const HELP: Record<string, string> = {
  main: `snakepit ${VERSION}: supervised pools of Python workers as fast, callable tools

usage: snakepit <command> [options]

commands:
  serve              start the pools and serve the HTTP API (default: the built-in example adapter)
  exec TOOL          start, call TOOL once, print the result as JSON, clean up
  status             show pools, workers and queues of a running server
  doctor             check the interpreter, bridge, adapter, folders and port
  setup              extract the bridge, find Python, write snakepit.toml, run doctor
  new adapter NAME   write NAME.py and test_NAME.py that pass as generated

options: --help on any command, --version
config precedence: flags > SNAKEPIT_* environment > --config FILE (TOML or JSON; default
./snakepit.toml when present, as setup writes it) > defaults`,
  serve: `usage: snakepit serve [--config FILE] [--adapter FILE[:Class]] [--pool-size N] [--python PATH]
                      [--host H] [--port P] [--grpc-port P] [--token-file FILE | --token T] [--instance NAME]
                      [--demo-call] [--once] [--cluster nats://HOST:PORT [--node NAME] [--cluster-prefix P]]

  --config FILE   TOML or JSON config (default: ./snakepit.toml when present; serve prints which)
  --host H        address to bind (default 127.0.0.1; anything else needs a token)
  --port P        port (default 7117; 0 = any free port)
  --grpc-port P   also serve ControlService over gRPC (HTTP/2) on this port (0 = any free port;
                  the port is printed); same host and token as the HTTP API
  --token-file FILE  file (mode 600) or pipe holding the bearer token required on every route
                  but /healthz, /readyz and /openapi.json (or SNAKEPIT_TOKEN_FILE; see SECURITY.md)
  --token T       the token itself (or SNAKEPIT_TOKEN; a flag shows in the process list)
  --instance NAME  process-registry name: a restart with the same name kills workers left by a
                   dead earlier run (default "default")
${CLUSTER_HELP}
  --demo-call     after start, make one real HTTP call and print it
  --once          exit after start (and the demo call) instead of serving`,
  exec: `usage: snakepit exec TOOL [--args JSON] [--stream] [--timeout-ms MS] [--adapter FILE[:Class]] [--config FILE]

  prints the result as one JSON line (one line per chunk with --stream); errors go to stderr as
  JSON { code, message, details } and set the exit code`,
  status: `usage: snakepit status [--url URL] [--token T] [--watch SECONDS] [--json]
       snakepit status --cluster nats://HOST:PORT [--cluster-prefix P] [--json]

  --url URL       server to ask (default http://127.0.0.1:7117, or SNAKEPIT_URL); a clustered
                  server also lists the cluster's nodes
  --cluster URL   list the cluster's nodes, pools and free slots straight from its NATS server
                  (credentials: SNAKEPIT_CLUSTER_TOKEN, SNAKEPIT_CLUSTER_USER/_PASS)`,
  doctor: `usage: snakepit doctor [--config FILE] [--adapter FILE[:Class]] [--python PATH] [--host H] [--port P] [--json]

  --json          print { ok, version, platform, checks: [{ name, ok, detail, fix? }] } as one JSON object`,
  setup: `usage: snakepit setup [--python PATH] [--port P] [--force] [--config FILE] [--requirements FILE]
                      [--index-url URL] [--find-links DIR]... [--no-index]

  extracts the bridge (binary), resolves the interpreter, writes ./snakepit.toml (unless it
  exists or --config names one; --force overwrites), makes each pool's venv from its
  \`requirements\` (uv when on PATH, else python -m venv + pip; a repeat is a no-op), then runs doctor.
  Offline: --no-index --find-links ./wheelhouse. The file's port is P (default 7117), or the
  next free one when P is taken. \`snakepit serve\` in this folder then uses the file.`,
  new: `usage: snakepit new adapter NAME [--dir DIR]`,
};

function intFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new SnakepitError("invalid_argument", `--${name} must be a whole number, got "${value}"`, { details: { field: name } });
  return n;
}

async function config(values: Record<string, unknown>, exampleAdapter: string, poolSizeDefault?: number): Promise<LoadedConfig> {
  const env = hostEnv();
  const flags: Record<string, unknown> = {
    adapter: values.adapter,
    poolSize: intFlag("pool-size", values["pool-size"] as string | undefined) ?? undefined,
    python: values.python,
    host: values.host,
    port: intFlag("port", values.port as string | undefined),
    grpcPort: intFlag("grpc-port", values["grpc-port"] as string | undefined),
    token: values.token,
    tokenFile: values["token-file"],
    instance: values.instance,
  };
  const { file } = configFile(values, env);
  // No adapter anywhere: serve the built-in example.
  if (!flags.adapter && !env.SNAKEPIT_ADAPTER && !file) flags.adapter = exampleAdapter;
  if (poolSizeDefault && flags.poolSize === undefined && !env.SNAKEPIT_POOL_SIZE && !file) flags.poolSize = poolSizeDefault;
  return loadConfig({ file, env, flags });
}

/** The config file to read: --config, else $SNAKEPIT_CONFIG, else ./snakepit.toml when present (as `setup` writes it). */
function configFile(values: Record<string, unknown>, env: Record<string, string | undefined>): { file: string | undefined; source: string } {
  const flag = values.config as string | undefined;
  const file = flag ?? env.SNAKEPIT_CONFIG ?? (existsSync(LOCAL_CONFIG) ? LOCAL_CONFIG : undefined);
  if (!file) return { file, source: values.adapter || env.SNAKEPIT_ADAPTER ? "flags and SNAKEPIT_* environment (no snakepit.toml here)" : "none (no snakepit.toml here): serving the built-in example adapter" };
  const how = flag ? "--config" : env.SNAKEPIT_CONFIG ? "SNAKEPIT_CONFIG" : "found in the working directory";
  return { file, source: `${resolve(file)} (${how}; flags and SNAKEPIT_* environment override it)` };
}

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(HELP.main);
    return command ? 0 : 64;
  }
  if (command === "--version" || command === "-v") {
    console.log(versionLine());
    return 0;
  }
  const assets = await prepareAssets();
  setBridgeDir(assets.bridgeDir);
  switch (command) {
    case "serve": {
      const { values } = parseArgs({ args: rest, options: { ...POOL_FLAGS, ...SERVER_FLAGS, ...CLUSTER_FLAGS, "demo-call": { type: "boolean" }, once: { type: "boolean" } } });
      if (values.help) return help("serve");
      const configSource = configFile(values, hostEnv()).source;
      const loaded = await config(values, assets.exampleAdapter);
      loaded.cluster = clusterSettings(loaded.cluster, hostEnv(), values);
      return serve(loaded, { version: VERSION, demoCall: values["demo-call"] ?? false, once: values.once ?? false, configSource });
    }
    case "exec": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { ...POOL_FLAGS, args: { type: "string" }, stream: { type: "boolean" }, "timeout-ms": { type: "string" } },
      });
      if (values.help) return help("exec");
      const tool = positionals[0];
      if (!tool) throw new SnakepitError("invalid_argument", "exec needs a tool name: snakepit exec TOOL [--args JSON]", { details: { field: "tool" } });
      const args = parseArgsJson(values.args);
      const timeoutMs = intFlag("timeout-ms", values["timeout-ms"]);
      return exec(await config(values, assets.exampleAdapter, 1), tool, args, { stream: values.stream ?? false, ...(timeoutMs ? { timeoutMs } : {}) });
    }
    case "status": {
      const { values } = parseArgs({ args: rest, options: { url: { type: "string" }, token: { type: "string" }, watch: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" }, ...CLUSTER_FLAGS } });
      if (values.help) return help("status");
      const env = hostEnv();
      if (values.cluster) return clusterStatus(clusterSettings(undefined, env, values)!, { json: values.json ?? false });
      const watch = intFlag("watch", values.watch);
      if (watch !== undefined && watch <= 0) throw new SnakepitError("invalid_argument", "--watch takes a number of seconds above 0", { details: { field: "watch" } });
      return status(values.url ?? env.SNAKEPIT_URL ?? "http://127.0.0.1:7117", {
        token: values.token ?? env.SNAKEPIT_TOKEN,
        watchMs: watch ? watch * 1000 : undefined,
        json: values.json ?? false,
      });
    }
    case "doctor": {
      const { values } = parseArgs({ args: rest, options: { ...POOL_FLAGS, ...SERVER_FLAGS, json: { type: "boolean" } } });
      if (values.help) return help("doctor");
      const print = values.json ? printChecksJson : printChecks;
      let loaded: LoadedConfig;
      try {
        loaded = await config(values, assets.exampleAdapter);
      } catch (err) {
        print([{ name: "configuration", ok: false, detail: SnakepitError.from(err).message, fix: "correct the configuration field this names" }]);
        return EXIT_CODE.config_invalid;
      }
      return print(await runChecks(loaded.pools, loaded.server, assets.bridgeDir, values.config)) ? 0 : 1;
    }
    case "setup": {
      const { values } = parseArgs({ args: rest, options: { python: { type: "string" }, force: { type: "boolean" }, port: { type: "string", short: "p" }, help: { type: "boolean", short: "h" }, ...SETUP_ENV_FLAGS } });
      if (values.help) return help("setup");
      return setup({
        python: values.python, force: values.force ?? false, port: intFlag("port", values.port), assets, config: values.config, requirements: values.requirements,
        indexUrl: values["index-url"], findLinks: values["find-links"], noIndex: values["no-index"],
      });
    }
    case "new": {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { dir: { type: "string" }, help: { type: "boolean", short: "h" } } });
      if (values.help || positionals[0] !== "adapter" || !positionals[1]) {
        if (!values.help) console.error(HELP.new);
        return values.help ? help("new") : 64;
      }
      const dir = values.dir ?? ".";
      for (const path of scaffoldAdapter(positionals[1], dir)) console.log(`wrote ${path}`);
      const python = await resolvePython(undefined).catch(() => "python3");
      console.log(`test: cd ${shellQuote(dir)} && PYTHONPATH=${shellQuote(assets.bridgeDir)} ${shellQuote(python)} -m unittest test_${positionals[1]}`);
      console.log(`  (or \`pip install\` the bridge once: ${shellQuote(python)} -m pip install ${shellQuote(assets.bridgeDir)}; then plain unittest works)`);
      console.log(`next: snakepit serve --adapter ${shellQuote(join(dir, `${positionals[1]}.py`))}`);
      return 0;
    }
    default:
      console.error(`unknown command "${command}"\n\n${HELP.main}`);
      return 64;
  }
}

/** A word safe to paste into a POSIX shell. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

function help(command: string): number {
  console.log(HELP[command]);
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    const e = err instanceof TypeError && /parseArgs|Unknown option|ERR_PARSE_ARGS/.test(String((err as { code?: string }).code ?? err.message))
      ? new SnakepitError("invalid_argument", `${err.message} (see --help)`)
      : SnakepitError.from(err);
    // `exec` is for scripts: its errors are one JSON line, as its help says.
    if (process.argv[2] === "exec") console.error(JSON.stringify(toHttpJson(e.toJSON())));
    else console.error(`snakepit: ${e.code}: ${e.message}`);
    process.exitCode = EXIT_CODE[e.code];
  }
  // Workers are closed by now; do not wait on stray timers.
  process.exit(process.exitCode ?? 0);
}

/** `snakepit setup`: extract the bridge, resolve Python, write ./snakepit.toml, run doctor. */

import { existsSync, writeFileSync } from "node:fs";
import { loadConfig } from "../config/load.ts";
import { hostEnv, serveHttp } from "../runtime/process.ts";
import { resolvePython } from "../worker/python.ts";
import type { Assets } from "./assets.ts";
import { printChecks, runChecks } from "./doctor.ts";
import { envToml, setUpEnvironments, withEnvFlags } from "./setup-env.ts";

/** The port `setup` writes when it is free (the server's documented default). */
export const DEFAULT_PORT = 7117;

/** The first port from `preferred` up that we can bind on `host` (0 = let the OS pick, when none in 20 is free). */
async function firstFreePort(host: string, preferred: number): Promise<number> {
  for (let port = preferred; port < preferred + 20 && port <= 65_535; port++) {
    try {
      const s = serveHttp(() => new Response("setup"), { hostname: host, port });
      await s.stop(true);
      return port;
    } catch { /* taken: try the next */ }
  }
  return 0;
}

/** Flags of `snakepit setup` for the managed environment. */
export interface EnvFlags {
  config?: string | undefined;
  requirements?: string | undefined;
  indexUrl?: string | undefined;
  findLinks?: string[] | undefined;
  noIndex?: boolean | undefined;
}

export async function setup(options: { python?: string | undefined; force: boolean; port?: number | undefined; assets: Assets } & EnvFlags): Promise<number> {
  const python = await resolvePython(options.python);
  console.log(`✓ interpreter: ${python}`);
  console.log(`✓ bridge: ${options.assets.bridgeDir}${options.assets.compiled ? " (extracted from the binary)" : ""}`);
  const path = options.config ?? "snakepit.toml";
  if (options.config) {
    console.log(`✓ using ${path}`);
  } else if (existsSync(path) && !options.force) {
    console.log(`✓ ${path} exists (kept; --force to rewrite)`);
  } else {
    const preferred = options.port ?? DEFAULT_PORT;
    const port = await firstFreePort("127.0.0.1", preferred);
    if (port !== preferred) console.log(`  port ${preferred} is in use here: writing port = ${port}${port === 0 ? " (any free port)" : ""}`);
    writeFileSync(path, `# snakepit configuration: every field and default is in docs/configuration.md.
# Precedence: command-line flags > SNAKEPIT_* environment > this file > defaults.

adapter = ${JSON.stringify(options.assets.exampleAdapter)}
python = ${JSON.stringify(python)}
pool_size = 2
${options.requirements ? envToml(options) : ""}
[server]
host = "127.0.0.1"
port = ${port}
`);
    console.log(`✓ wrote ${path}`);
  }
  const config = await loadConfig({ file: path, env: hostEnv() });
  const pools = withEnvFlags(config.pools, options);
  if (!(await setUpEnvironments(pools, hostEnv()))) return 1;
  return printChecks(await runChecks(pools, config.server, options.assets.bridgeDir, options.config)) ? 0 : 1;
}

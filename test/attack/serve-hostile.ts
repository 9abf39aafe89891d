// A real `snakepit serve` of the hostile fixture for the attack tests: started before a file's
// tests, stopped (SIGTERM) after them.
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixture, ROOT, type Server, startServer } from "../helpers.ts";

export interface HostileServe {
  server: Server;
  port: number;
  /** The server process's resident memory, MB. */
  rssMb(): number;
}

/** Serve `hostile.py` (2 workers, `extraToml` added to its config) for the tests of this file. */
export function serveHostile(name: string, extraToml = ""): HostileServe {
  let dir = "";
  const it = {
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${it.server.proc.pid}/status`, "utf8"))![1]) / 1024,
  } as HostileServe;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `snakepit-${name}-`));
    const config = join(dir, "snakepit.toml");
    writeFileSync(config, `adapter = "${fixture("hostile.py")}"\npoolSize = 2\n${extraToml}[server]\nport = 0\n`);
    it.server = await startServer([process.execPath, `${ROOT}src/cli/main.ts`, "serve", "--config", config, "--instance", `${name}-${process.pid}`]);
    it.port = Number(new URL(it.server.url).port);
  });
  afterAll(async () => {
    it.server.proc.kill("SIGTERM");
    await it.server.proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);
  return it;
}

/**
 * A real `nats-server -js` for tests: a free port, a temporary store folder, ready when the
 * server says so. `natsServerPath()` is undefined when the binary is absent (tests then skip and
 * say why; `scripts/optional-deps.sh` installs it from Debian's `nats-server` package).
 */

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The nats-server binary, if installed. */
export function natsServerPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/bin", "/usr/local/bin"])) {
    const path = join(dir, "nats-server");
    if (dir && existsSync(path)) return path;
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** A running server. */
export interface NatsServer {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Start `nats-server -js` on a free port with a temporary store; extra args go last. */
export async function startNatsServer(extraArgs: string[] = []): Promise<NatsServer> {
  const bin = natsServerPath();
  if (!bin) throw new Error("nats-server is not installed");
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const store = mkdtempSync(join(tmpdir(), "snakepit-nats-"));
    const proc = Bun.spawn([bin, "-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store, ...extraArgs], { stdout: "ignore", stderr: "pipe" });
    const reader = proc.stderr.getReader();
    let log = "";
    const ready = await (async () => {
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        log += decoder.decode(value);
        if (log.includes("Server is ready")) return true;
      }
    })();
    // Keep draining the log so the server never blocks on a full pipe.
    void (async () => {
      while (!(await reader.read()).done) {
        // discard
      }
    })().catch(() => {});
    const stop = async () => {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(store, { recursive: true, force: true });
    };
    if (ready) return { url: `nats://127.0.0.1:${port}`, port, pid: proc.pid, stop };
    await stop();
    // Another process took the port between our check and the server's bind: try another.
    if (attempt >= 3 || !/address already in use/i.test(log)) throw new Error(`nats-server did not start: ${log.slice(-500)}`);
  }
}

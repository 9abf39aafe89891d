/** `snakepit serve`: start the pools, serve the HTTP API, stop gracefully on SIGINT/SIGTERM. */

import { createApp } from "../api/app.ts";
import { type GrpcServer, startGrpcServer } from "../api/grpc-server.ts";
import { createStreamSlots } from "../api/stream-slots.ts";
import type { LoadedConfig } from "../config/load.ts";
import { SnakepitError } from "../errors.ts";
import { makeNonDumpable } from "../runtime/dumpable.ts";
import { type HttpServer, onSignal, serveHttp } from "../runtime/process.ts";
import { Snakepit } from "../snakepit.ts";
import { exampleCall } from "./example-call.ts";
import { progress } from "./output.ts";

/** Options of `serve` beyond the config. */
export interface ServeOptions {
  version: string;
  /** After start, make one real HTTP call to the example tool and print it. */
  demoCall?: boolean;
  /** Exit after the demo call instead of serving on (docs tests, smoke runs). */
  once?: boolean;
  /** Where the configuration came from, printed at start ("./snakepit.toml", "defaults"...). */
  configSource?: string;
}

/** Run the server until a signal; resolves with the exit code. */
export async function serve(config: LoadedConfig, options: ServeOptions): Promise<number> {
  const t0 = performance.now();
  await makeNonDumpable(); // tools cannot read this process's environ, memory or fds (SECURITY.md)
  if (options.configSource) console.log(`config: ${options.configSource}`);
  const total = config.pools.reduce((n, p) => n + p.poolSize, 0);
  const bar = progress(total);
  const pit = await startWithProgress(config, bar);
  const { server: s } = config;
  let server: HttpServer;
  const slots = createStreamSlots(s.limits);
  const hostInUrl = s.host.includes(":") ? `[${s.host}]` : s.host;
  try {
    const app = createApp({ pit, token: s.token, maxBodyBytes: s.maxBodyBytes, version: options.version, limits: s.limits, allowedOrigins: s.allowedOrigins, slots, servers: [`http://${hostInUrl}:${s.port}`] });
    server = serveHttp(app.fetch, { hostname: s.host, port: s.port });
  } catch (err) {
    await pit.close({ graceMs: 0 });
    const busy = /EADDRINUSE|in use/i.test(String((err as Error).message));
    throw new SnakepitError(busy ? "config_invalid" : "internal", busy
      ? `Port ${s.port} on ${s.host} is in use (another snakepit?): choose another with --port, or --port 0 for any free port`
      : `Cannot listen on ${s.host}:${s.port}: ${(err as Error).message}`, { cause: err });
  }
  const url = `http://${hostInUrl}:${server.port}`;
  let grpcServer: GrpcServer | undefined;
  if (s.grpcPort !== undefined) {
    try {
      grpcServer = await startGrpcServer({ pit, host: s.host, port: s.grpcPort, token: s.token, limits: s.limits, maxMessageBytes: s.maxBodyBytes, slots });
    } catch (err) {
      await Promise.allSettled([server.stop(true), pit.close({ graceMs: 0 })]);
      throw err;
    }
  }
  const pools = config.pools.map((p) => `${p.name} ×${p.poolSize} (${p.adapter})`).join(", ");
  bar.done(`snakepit listening on ${url} — pools: ${pools} — ready in ${Math.round(performance.now() - t0)} ms`);
  if (pit.cluster) console.log(`cluster: node "${pit.cluster.name}" joined ${String(pit.cluster.config.url)} (prefix "${pit.cluster.config.prefix}", ${pit.cluster.nodes().filter((n) => n.alive).length} live nodes)`);
  const auth = s.token ? ` -H "authorization: Bearer $SNAKEPIT_TOKEN"` : "";
  if (grpcServer) console.log(`gRPC (snakepit.api.v1.ControlService, HTTP/2) listening on ${hostInUrl}:${grpcServer.port}`);
  const example = exampleCall(pit.tools.list());
  console.log(example
    ? `try: curl -s${example.streaming ? " -N" : ""} ${url}/v1/${example.streaming ? "stream" : "execute"}${auth} -H 'content-type: application/json' -d '${JSON.stringify({ tool: example.tool, args: example.args })}'`
    : `no tools found in the adapter: give its functions or Adapter methods the @tool decorator`);
  console.log(`dashboard: ${url}/`);

  if (options.demoCall) await demoCall(url, s.token, pit);

  const code = await untilStopped(grpcServer ? both(server, grpcServer) : server, pit, s.shutdownGraceMs, options.once ?? false);
  return code;
}

/** The HTTP and gRPC servers as one, for shutdown. */
function both(http: HttpServer, grpcServer: GrpcServer): HttpServer {
  return { ...http, stop: async (force) => void (await Promise.all([http.stop(force), grpcServer.stop(force)])) };
}

/**
 * Wait for SIGINT/SIGTERM (or stop at once with `once`): stop accepting, let in-flight calls
 * finish within the grace period, close the pools. A second signal forces an immediate stop.
 */
function untilStopped(server: HttpServer, pit: Snakepit, graceMs: number, once: boolean): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    let offs: Array<() => void> = [];
    const finish = (code: number) => {
      for (const off of offs) off();
      resolve(code);
    };
    const stop = async () => {
      if (stopping) {
        console.error("second signal: forcing shutdown");
        await Promise.allSettled([server.stop(true), pit.close({ graceMs: 0 })]);
        finish(130);
        return;
      }
      stopping = true;
      console.log(`shutting down: finishing in-flight calls (up to ${graceMs} ms)`);
      // One grace period in all: the HTTP side and the workers drain together.
      const until = Date.now() + graceMs;
      await Promise.race([server.stop(false), new Promise((r) => setTimeout(r, graceMs))]);
      await server.stop(true);
      await pit.close({ graceMs: Math.max(0, until - Date.now()) });
      console.log("stopped");
      finish(0);
    };
    offs = [onSignal("SIGINT", () => void stop()), onSignal("SIGTERM", () => void stop())];
    if (once) void stop();
  });
}

async function startWithProgress(config: LoadedConfig, bar: ReturnType<typeof progress>): Promise<Snakepit> {
  return await Snakepit.start({ pools: config.pools, sessions: config.sessions, instance: config.instance, telemetry: config.telemetry, ...(config.stateDir ? { stateDir: config.stateDir } : {}), ...(config.cluster ? { cluster: config.cluster } : {}) }, {
    on: {
      "worker.started": (e) => bar.step(`worker ${e.worker} ready (pid ${e.pid}, ${Math.round(e.durationMs)} ms)`),
    },
  });
}

async function demoCall(url: string, token: string | undefined, pit: Snakepit): Promise<void> {
  const example = exampleCall(pit.tools.list());
  if (!example || example.streaming) {
    console.log(`demo call: skipped (${example ? `the first tool, ${example.tool}, streams` : "the adapter has no tools"})`);
    return;
  }
  const body = { tool: example.tool, args: example.args };
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  console.log(`demo call: POST /v1/execute ${JSON.stringify(body)} -> ${res.status} ${text} (${(performance.now() - t0).toFixed(1)} ms)`);
}

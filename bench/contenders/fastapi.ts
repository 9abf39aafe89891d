/** FastAPI + uvicorn as a contender, called from the bench host with fetch (keep-alive). */

import { descendants, pinTree } from "../placement.ts";

const tryKill = (pid: number) => {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
};

const appDir = new URL("../baselines/", import.meta.url).pathname;

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): number {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

/** True when this interpreter can run the FastAPI contender; else the reason. */
export function fastapiMissing(python: string): string | undefined {
  const r = Bun.spawnSync([python, "-c", "import fastapi, uvicorn, numpy"], { stderr: "pipe" });
  return r.exitCode === 0 ? undefined : `FastAPI contender skipped: ${python} cannot import fastapi, uvicorn and numpy (${r.stderr.toString().trim().split("\n").pop()})`;
}

export interface Uvicorn {
  url: string;
  close(): Promise<void>;
}

/** Start uvicorn with `workers` processes; resolves once every worker logged start-up and the port is bound. */
export async function startUvicorn(python: string, workers: number, cpuList?: string): Promise<Uvicorn> {
  const port = freePort();
  const proc = Bun.spawn([python, `${appDir}uvicorn_workers.py`, String(port), String(workers)], {
    cwd: appDir,
    stdout: "ignore",
    stderr: "pipe",
  });
  const reader = proc.stderr.getReader();
  const text = new TextDecoder();
  let log = "";
  let ready = 0;
  // One worker binds after its start-up; several share a socket their parent bound first.
  while (ready < workers || !log.includes("Uvicorn running on")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`uvicorn exited before it was ready:\n${log}`);
    log += text.decode(value, { stream: true });
    ready = log.split("Application startup complete").length - 1;
  }
  void (async () => {
    while (!(await reader.read()).done);
  })();
  if (cpuList) pinTree(proc.pid, cpuList);
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      // uvicorn waits for open keep-alive connections; after 3 s the tree is killed.
      const tree = [...descendants(proc.pid), proc.pid];
      proc.kill("SIGINT");
      const timer = setTimeout(() => tree.forEach((pid) => pid > 0 && tryKill(pid)), 3000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

export const apiCall = (url: string) => async (i: number) => {
  const res = await fetch(`${url}/add`, { method: "POST", headers: { "content-type": "application/json" }, body: `{"a":${i},"b":1}` });
  return ((await res.json()) as { result: number }).result;
};

export async function apiStream(url: string, n: number): Promise<{ firstMs: number; count: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/stream?n=${n}`);
  const reader = res.body!.getReader();
  const text = new TextDecoder();
  let firstMs = 0;
  let count = 0;
  let rest: Uint8Array | undefined;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    let buf = value;
    if (rest) {
      buf = new Uint8Array(rest.length + value.length);
      buf.set(rest);
      buf.set(value, rest.length);
      rest = undefined;
    }
    let at = 0;
    let nl: number;
    while ((nl = buf.indexOf(10, at)) >= 0) {
      const line = JSON.parse(text.decode(buf.subarray(at, nl))) as { i: number };
      if (count === 0) firstMs = performance.now() - t0;
      if (line.i !== count++) throw new Error("FastAPI stream out of order");
      at = nl + 1;
    }
    if (at < buf.length) rest = buf.slice(at);
  }
  return { firstMs, count };
}

export async function apiBulk(url: string, data: Uint8Array, f32: boolean): Promise<Uint8Array> {
  const res = await fetch(`${url}/${f32 ? "f32" : "bytes"}`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: data as Uint8Array<ArrayBuffer> });
  return new Uint8Array(await res.arrayBuffer());
}

/** Start uvicorn with `n` workers and make one call; ms until answered. */
export async function apiStart(python: string, n: number): Promise<number> {
  const t0 = performance.now();
  const server = await startUvicorn(python, n);
  await apiCall(server.url)(1);
  const ms = performance.now() - t0;
  await server.close();
  return ms;
}

/** Cluster test nodes: real `snakepit serve --cluster` processes, each with its own Python workers. */

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixture, isAlive, ROOT, type Server, startServer } from "../helpers.ts";

/** A node process. */
export interface TestNode extends Server {
  name: string;
}

/** Write a node config file (TOML) with short cluster timings for tests. */
export function nodeConfig(url: string, options: { poolSize?: number } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "snakepit-cluster-"));
  const path = join(dir, "node.toml");
  writeFileSync(path, [
    `adapter = "${fixture("cluster_tools.py:ClusterTools")}"`,
    `pool_size = ${options.poolSize ?? 1}`,
    `[cluster]`,
    `url = "${url}"`,
    `heartbeat_ms = 250`,
    `node_timeout_ms = 1500`,
    `accept_timeout_ms = 1000`,
  ].join("\n"));
  return path;
}

/** Start `snakepit serve` as cluster node `name` (NODE_LABEL tells the Python tools who they are). */
export async function startNode(name: string, config: string, extra: string[] = []): Promise<TestNode> {
  const server = await startServer(
    ["bun", `${ROOT}src/cli/main.ts`, "serve", "--config", config, "--node", name, "--port", "0", "--instance", `cluster-test-${name}-${process.pid}`, ...extra],
    { NODE_LABEL: name },
  );
  return { ...server, name };
}

/**
 * Live Python processes of the bridge among the descendants of `pid`: workers, and the fork
 * templates they were forked from (`-m snakepit_bridge.forkserver`, a child of its keeper).
 */
export function pythonProcessesOf(pid: number): { workers: number[]; templates: number[] } {
  const out = { workers: [] as number[], templates: [] as number[] };
  const walk = (parent: number) => {
    for (const child of childrenOf(parent)) {
      let cmd = "";
      try {
        cmd = readFileSync(`/proc/${child}/cmdline`, "utf8");
      } catch {
        // gone
      }
      if (cmd.includes("snakepit_bridge.forkserver")) out.templates.push(child); // under its keeper (snakepit-keeper)
      else if (cmd.includes("snakepit_bridge")) out.workers.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/** Live child processes of `pid`. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid && isAlive(Number(entry))) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** Stop a node politely, then for sure. */
export async function stopNode(node: TestNode): Promise<void> {
  if (node.proc.exitCode !== null || node.proc.signalCode !== null) return;
  node.proc.kill("SIGTERM");
  const done = await Promise.race([node.proc.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
  if (!done) {
    node.proc.kill("SIGKILL");
    await node.proc.exited;
  }
}

/** Cluster settings (zod): where the NATS server is, who this node is, credentials, timings (see docs/cluster.md). */

import { z } from "zod";
import { MAX_TIMER_MS } from "../core/limits.ts";
import { SnakepitError } from "../errors.ts";

const ms = z.number().int().positive().max(MAX_TIMER_MS);
const token = /^[A-Za-z0-9_-]+$/;

/** TLS towards the NATS server: files are read once, at connect. */
export const ClusterTlsSchema = z.object({
  caFile: z.string().min(1).optional().describe("CA bundle that signed the server's certificate"),
  certFile: z.string().min(1).optional().describe("Client certificate (mutual TLS)"),
  keyFile: z.string().min(1).optional().describe("Client key (mutual TLS)"),
  handshakeFirst: z.boolean().optional().describe("Start TLS before the NATS INFO (server `handshake_first`)"),
}).strict();

/** One node's (or one client's) view of the cluster. */
export const ClusterConfigSchema = z.object({
  url: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe("NATS server(s), e.g. `nats://10.0.0.5:4222`; a list tries each"),
  node: z.string().regex(token, "use letters, digits, _ and -").max(64).optional()
    .describe("This node's name, unique in the cluster (default: host name and pid)"),
  prefix: z.string().regex(token, "use letters, digits, _ and -").max(32).default("snakepit")
    .describe("Subject and bucket namespace: nodes only exchange calls with nodes of the same prefix"),
  user: z.string().min(1).optional().describe("NATS user name (with `pass`)"),
  pass: z.string().min(1).optional().describe("NATS password"),
  token: z.string().min(1).optional().describe("NATS authentication token"),
  nkeySeedFile: z.string().min(1).optional().describe("File holding an NKey seed (`SU...`)"),
  credsFile: z.string().min(1).optional().describe("NATS `.creds` file (JWT + NKey seed)"),
  tls: ClusterTlsSchema.optional().describe("TLS settings; `tls://` URLs also turn TLS on"),
  heartbeatMs: ms.default(1_000).describe("How often a node refreshes its advertisement"),
  nodeTimeoutMs: ms.default(4_000).describe("A node not heard from for this long is gone: its calls fail or move"),
  acceptTimeoutMs: ms.default(2_000).describe("Time a node has to accept a call before another node is tried"),
  streamCredit: z.number().int().min(1).max(1_024).default(16).describe("Stream chunks a node may send ahead of the reader (backpressure)"),
  maxAttempts: z.number().int().min(1).max(10).default(3).describe("Nodes tried for one call (unstarted, or idempotent after a node loss)"),
}).strict().superRefine((c, ctx) => {
  if ((c.user === undefined) !== (c.pass === undefined)) ctx.addIssue({ code: "custom", path: ["pass"], message: "user and pass go together" });
  if (c.nodeTimeoutMs <= c.heartbeatMs) ctx.addIssue({ code: "custom", path: ["nodeTimeoutMs"], message: "must be above heartbeatMs" });
});

export type ClusterConfig = z.output<typeof ClusterConfigSchema>;
export type ClusterConfigInput = z.input<typeof ClusterConfigSchema>;

/** Validate cluster settings; `config_invalid` names each bad field. */
export function parseClusterConfig(input: unknown, source = "cluster"): ClusterConfig {
  const parsed = ClusterConfigSchema.safeParse(typeof input === "string" ? { url: input } : input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => {
    const keys = i.code === "unrecognized_keys" ? i.keys : [];
    return `${source}.${[...i.path.map(String), ...keys.slice(0, 1)].join(".") || "(root)"}: ${i.message}`;
  });
  throw new SnakepitError("config_invalid", `Invalid cluster configuration: ${problems.join("; ")}`, { details: { field: "cluster" } });
}

/** Open the NATS connection a node or client uses: servers, credentials, TLS, a namespaced inbox. */

import { readFile } from "node:fs/promises";
import { connect, credsAuthenticator, type NatsConnection, nkeyAuthenticator, type NodeConnectionOptions } from "@nats-io/transport-node";
import { SnakepitError } from "../errors.ts";
import type { ClusterConfig } from "../config/cluster.ts";

async function readSecret(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new SnakepitError("config_invalid", `Cannot read the cluster ${what} file ${path}: ${(err as Error).message}`, { details: { field: `cluster.${what}`, path } });
  }
}

/** Connection options from the cluster settings (files read here, once). */
export async function connectionOptions(config: ClusterConfig, name: string): Promise<NodeConnectionOptions> {
  const options: NodeConnectionOptions = {
    servers: config.url,
    name,
    // Replies stay inside the cluster's namespace too, so one permission `<prefix>.>` covers all.
    inboxPrefix: `${config.prefix}._INBOX`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  };
  if (config.user !== undefined) Object.assign(options, { user: config.user, pass: config.pass });
  if (config.token !== undefined) options.token = config.token;
  if (config.nkeySeedFile !== undefined) {
    const seed = new TextEncoder().encode(new TextDecoder().decode(await readSecret(config.nkeySeedFile, "nkeySeedFile")).trim());
    options.authenticator = nkeyAuthenticator(seed);
  }
  if (config.credsFile !== undefined) options.authenticator = credsAuthenticator(await readSecret(config.credsFile, "credsFile"));
  if (config.tls) {
    const tls: NonNullable<NodeConnectionOptions["tls"]> = {};
    if (config.tls.caFile) tls.caFile = config.tls.caFile;
    if (config.tls.certFile) tls.certFile = config.tls.certFile;
    if (config.tls.keyFile) tls.keyFile = config.tls.keyFile;
    if (config.tls.handshakeFirst) tls.handshakeFirst = true;
    options.tls = tls;
  }
  return options;
}

/** Connect, or fail with a typed error naming the server and the reason. */
export async function openConnection(config: ClusterConfig, name: string): Promise<NatsConnection> {
  const options = await connectionOptions(config, name);
  try {
    return await connect(options);
  } catch (err) {
    const message = (err as Error).message;
    const auth = /auth|authoriz|permission/i.test(message);
    throw new SnakepitError(auth ? "unauthenticated" : "worker_unavailable", `Cannot join the cluster at ${String(config.url)}: ${message}`, {
      cause: err,
      details: { url: config.url },
    });
  }
}

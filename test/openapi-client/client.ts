// Compiled by test/integration/openapi.test.ts against types that openapi-typescript generates
// from /openapi.json (api.d.ts, written next to this file in a temporary copy).
import createClient from "openapi-fetch";
import type { paths } from "./api.d.ts";

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:7117" });

export async function run(): Promise<unknown> {
  const bytes = { __snakepit__: "bytes", base64: "aGk=" } as const;
  const { data, error } = await client.POST("/v1/execute", { body: { tool: "echo", args: { b: bytes, n: 1 }, timeout_ms: 5_000 } });
  if (error) throw new Error(`${error.code}: ${error.message}`);
  const session = await client.POST("/v1/sessions", { body: { id: "s1", ttl_ms: 60_000 } });
  const sessionId: string | undefined = session.data?.id;
  const tools = await client.GET("/v1/tools", { params: { query: { pool: "default" } } });
  const names: string[] = tools.data?.tools.map((t) => t.name) ?? [];
  const ready = await client.GET("/readyz");
  const isReady: boolean | undefined = ready.data?.ready;
  const reply = await client.POST("/snakepit.api.v1.ControlService/Execute", { body: { tool: "add", args: { a: 1 }, timeoutMs: 100 } });
  return [data?.result, sessionId, names, isReady, reply.data?.result];
}
